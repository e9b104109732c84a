using Recall.Samples.Blog;

namespace Recall.Projections.Tests;

/// <summary>The blog sample's main flow: typed actors on SQLite, the published posts projected exactly once into the same file.</summary>
public sealed class BlogSampleTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task The_published_posts_table_holds_the_published_posts_with_their_last_body()
    {
        var path = _folder.File("blog.db");
        var output = new StringWriter();
        var rows = await BlogDemo.RunAsync(path, output);

        Assert.Equal(["actors", "events"], rows.Select(r => r.PostId).Order());
        Assert.Equal("State is the sum of its events.", rows.Single(r => r.PostId == "events").Body);
        Assert.Contains("rejected: post actors is published already", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("rejected: post events is published: its body cannot change", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("rejected: post nothing does not exist", output.ToString(), StringComparison.Ordinal);

        // One file: the journal, the read model and the projection's offset.
        Assert.Equal(6, Sql.Scalar(path, "SELECT count(*) FROM journal"));
        Assert.Equal(1, Sql.Scalar(path, "SELECT count(*) FROM post_drafts"));
        Assert.Equal(6, Sql.Scalar(path, "SELECT offset_ordering FROM recall_projection_offsets WHERE projection_name = 'published-posts' AND projection_key = 'blog-post'"));
    }

    [Fact]
    public async Task Running_it_again_on_the_same_file_continues_from_the_stored_offset()
    {
        var path = _folder.File("blog.db");
        await BlogDemo.RunAsync(path, TextWriter.Null);
        var output = new StringWriter();
        var rows = await BlogDemo.RunAsync(path, output);

        // Every command of the second run is refused (the posts exist, two are published); the
        // projection starts after its stored offset and projects nothing twice.
        Assert.DoesNotContain(" ok", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("rejected: post actors exists already", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("offset 6, 0 events handled, lag 0", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, rows.Count);
        Assert.Equal(6, Sql.Scalar(path, "SELECT count(*) FROM journal"));
    }
}

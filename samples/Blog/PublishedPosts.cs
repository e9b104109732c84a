using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;
using Recall.Projections;
using Recall.Projections.Sqlite;

namespace Recall.Samples.Blog;

/// <summary>A row of the read model.</summary>
public sealed record PublishedPostRow(string PostId, string Title, string Body, string Author, DateTimeOffset PublishedAt);

/// <summary>
/// The read model of published posts: a projection of the blog events into the table
/// <c>published_posts</c> of the journal's own SQLite file, exactly once (the rows and the
/// projection's offset commit in one transaction). Drafts wait in <c>post_drafts</c> until they are
/// published, since a published row needs the draft's title and body.
/// </summary>
public static class PublishedPosts
{
    public static SqliteProjection Projection(string path) =>
        SqliteProjection.ExactlyOnce("published-posts", ProjectionSource.EventsByTag(BlogPost.Tag), path, Apply)
            .WithSetup((connection, transaction, _) =>
            {
                Execute(connection, transaction, """
                    CREATE TABLE IF NOT EXISTS post_drafts (
                        post_id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, author TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS published_posts (
                        post_id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, author TEXT NOT NULL,
                        published_at INTEGER NOT NULL); -- UTC ticks of the publish event
                    """);
                return Task.CompletedTask;
            })
            .WithClear((connection, transaction, _) =>
            {
                Execute(connection, transaction, "DELETE FROM post_drafts; DELETE FROM published_posts;");
                return Task.CompletedTask;
            });

    /// <summary>The published posts, newest first.</summary>
    public static IReadOnlyList<PublishedPostRow> Read(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT post_id, title, body, author, published_at FROM published_posts ORDER BY published_at DESC, post_id";
        using var reader = command.ExecuteReader();
        var rows = new List<PublishedPostRow>();
        while (reader.Read())
        {
            rows.Add(new PublishedPostRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), new DateTimeOffset(reader.GetInt64(4), TimeSpan.Zero)));
        }

        return rows;
    }

    private static Task Apply(EventEnvelope envelope, SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        switch (envelope.Event)
        {
            case PostAdded e:
                Execute(connection, transaction, "INSERT INTO post_drafts (post_id, title, body, author) VALUES ($id, $title, $body, $author)",
                    ("$id", e.PostId), ("$title", e.Title), ("$body", e.Body), ("$author", e.Author));
                break;
            case BodyChanged e:
                Execute(connection, transaction, "UPDATE post_drafts SET body = $body WHERE post_id = $id", ("$id", e.PostId), ("$body", e.Body));
                break;
            case PostPublished e:
                Execute(connection, transaction, """
                    INSERT INTO published_posts (post_id, title, body, author, published_at)
                    SELECT post_id, title, body, author, $at FROM post_drafts WHERE post_id = $id;
                    DELETE FROM post_drafts WHERE post_id = $id;
                    """,
                    ("$id", e.PostId), ("$at", envelope.Timestamp.UtcTicks));
                break;
        }

        return Task.CompletedTask;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        command.ExecuteNonQuery();
    }
}

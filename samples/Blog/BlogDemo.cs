using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Sqlite;
using Recall.Projections;

namespace Recall.Samples.Blog;

/// <summary>The sample's main flow: posts written by actors, read back from the projected table.</summary>
public static class BlogDemo
{
    public static async Task<IReadOnlyList<PublishedPostRow>> RunAsync(string path, TextWriter output)
    {
        var timeout = TimeSpan.FromSeconds(10);
        await using var system = ActorSystem.Create("blog", o => o
            .UsePersistence(p => p.UseSqlite(path).Events.RegisterAssemblyOf<BlogPost>())
            .UseProjections());
        var projection = system.Projections().Start(PublishedPosts.Projection(path));

        var posts = new Dictionary<string, IActorRef>();
        IActorRef Post(string id) => posts.TryGetValue(id, out var post) ? post : posts[id] = system.Spawn(Props.Create(() => new BlogPost(id)), "post-" + id);

        async Task SendAsync(string id, string what, Func<IReplyTo<BlogReply>, IBlogCommand> command)
        {
            var reply = await Post(id).Ask<BlogReply>(replyTo => command(replyTo), timeout);
            output.WriteLine($"{what,-44} {(reply is Rejected r ? "rejected: " + r.Reason : "ok")}");
        }

        await SendAsync("actors", "add 'actors'", r => new AddPost("Actors in C#", "Mailboxes and supervision.", "ada", r));
        await SendAsync("events", "add 'events'", r => new AddPost("Event sourcing", "State is a sum.", "grace", r));
        await SendAsync("drafts", "add 'drafts'", r => new AddPost("Unfinished", "Not yet.", "alan", r));
        await SendAsync("events", "change the body of 'events'", r => new ChangeBody("State is the sum of its events.", r));
        await SendAsync("events", "publish 'events'", r => new Publish(r));
        await SendAsync("actors", "publish 'actors'", r => new Publish(r));
        await SendAsync("actors", "publish 'actors' again", r => new Publish(r));
        await SendAsync("events", "change the body of the published 'events'", r => new ChangeBody("Too late.", r));
        await SendAsync("nothing", "publish 'nothing'", r => new Publish(r));

        // The projection follows the journal live; wait until it has handled every stored event.
        using (var wait = new CancellationTokenSource(timeout))
        {
            await projection.WaitForCatchUpAsync(wait.Token);
        }

        var status = await projection.GetStatusAsync();
        output.WriteLine();
        output.WriteLine($"projection {status.Id}: {status.State}, offset {status.Offset}, {status.EventsHandled} events handled, lag {status.Lag!.Events}");
        var rows = PublishedPosts.Read(path);
        output.WriteLine($"published_posts ({rows.Count}):");
        foreach (var row in rows)
        {
            output.WriteLine($"  {row.PostId,-8} {row.Title,-16} by {row.Author,-6} {row.Body}");
        }

        return rows;
    }
}

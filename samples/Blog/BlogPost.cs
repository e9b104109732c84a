using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.Samples.Blog;

/// <summary>What a blog post accepts.</summary>
public interface IBlogCommand;

/// <summary>Create the post as a draft; refused if it exists.</summary>
public sealed record AddPost(string Title, string Body, string Author, IReplyTo<BlogReply> ReplyTo) : IBlogCommand;

/// <summary>Replace the draft's body; refused for a missing or published post.</summary>
public sealed record ChangeBody(string Body, IReplyTo<BlogReply> ReplyTo) : IBlogCommand;

/// <summary>Publish the draft; refused for a missing or already published post.</summary>
public sealed record Publish(IReplyTo<BlogReply> ReplyTo) : IBlogCommand;

/// <summary>Every reply of a blog post.</summary>
public abstract record BlogReply;

/// <summary>The command was accepted and its event stored.</summary>
public sealed record Accepted : BlogReply;

/// <summary>The command was refused, and why; nothing was stored.</summary>
public sealed record Rejected(string Reason) : BlogReply;

/// <summary>What a blog post stores. Every event is tagged <see cref="BlogPost.Tag"/>.</summary>
public interface IBlogEvent;

/// <summary>A draft was written.</summary>
[EventType("blog.post-added.v1")]
public sealed record PostAdded(string PostId, string Title, string Body, string Author) : IBlogEvent;

/// <summary>The draft's body was replaced.</summary>
[EventType("blog.body-changed.v1")]
public sealed record BodyChanged(string PostId, string Body) : IBlogEvent;

/// <summary>The post went public.</summary>
[EventType("blog.post-published.v1")]
public sealed record PostPublished(string PostId) : IBlogEvent;

/// <summary>A post's state: nothing yet, a draft, or published.</summary>
public sealed record BlogState(string? Title, string? Body, bool Published)
{
    public static BlogState Empty { get; } = new(null, null, false);

    public bool Exists => Title is not null;
}

/// <summary>
/// The seed's blog post as a typed persistent actor: a draft is added, its body may change until
/// it is published, and it is published once.
/// </summary>
public sealed class BlogPost(string postId)
    : EventSourcedActorWithEnforcedReplies<IBlogCommand, IBlogEvent, BlogState>(PersistenceId.Of("post", postId), BlogState.Empty)
{
    /// <summary>The tag of every blog event: the projection reads this stream.</summary>
    public const string Tag = "blog-post";

    protected override ReplyEffect<IBlogEvent, BlogState> OnCommand(BlogState state, IBlogCommand command) => command switch
    {
        AddPost a when state.Exists => Effect.Reply(a.ReplyTo, new Rejected($"post {postId} exists already")),
        AddPost a => Effect.Persist(new PostAdded(postId, a.Title, a.Body, a.Author)).ThenReply(a.ReplyTo, _ => new Accepted()),
        ChangeBody c when !state.Exists => Effect.Reply(c.ReplyTo, new Rejected($"post {postId} does not exist")),
        ChangeBody c when state.Published => Effect.Reply(c.ReplyTo, new Rejected($"post {postId} is published: its body cannot change")),
        ChangeBody c => Effect.Persist(new BodyChanged(postId, c.Body)).ThenReply(c.ReplyTo, _ => new Accepted()),
        Publish p when !state.Exists => Effect.Reply(p.ReplyTo, new Rejected($"post {postId} does not exist")),
        Publish p when state.Published => Effect.Reply(p.ReplyTo, new Rejected($"post {postId} is published already")),
        Publish p => Effect.Persist(new PostPublished(postId)).ThenReply(p.ReplyTo, _ => new Accepted()),
        _ => Effect.NoReply(),
    };

    protected override BlogState OnEvent(BlogState state, IBlogEvent @event) => @event switch
    {
        PostAdded e => state with { Title = e.Title, Body = e.Body },
        BodyChanged e => state with { Body = e.Body },
        PostPublished => state with { Published = true },
        _ => throw new UnexpectedEventException(@event, state),
    };

    protected override IReadOnlyList<string> Tags(IBlogEvent @event) => [Tag];
}

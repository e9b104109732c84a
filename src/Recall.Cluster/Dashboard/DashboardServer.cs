using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Recall.Cluster.Dashboard;

/// <summary>
/// Serves the cluster dashboard over HTTP (Kestrel): the page at <c>/</c> (one file, no build step,
/// nothing fetched from elsewhere), the state as JSON at <c>/api/state</c>, the state pushed every
/// <see cref="DashboardOptions.RefreshInterval"/> as server-sent events at <c>/api/events</c>, and
/// actions at <c>POST /api/actions/{leave|pause|resume}</c>, which need
/// <c>Authorization: Bearer TOKEN</c> with the configured <see cref="DashboardOptions.Token"/>.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };
    private static readonly Lazy<byte[]> Page = new(LoadPage);

    private readonly WebApplication _app;
    private readonly IDashboardSource _source;
    private readonly DashboardOptions _options;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _reading = new(1, 1);
    private (byte[] Json, long At) _latest = ([], 0);

    private DashboardServer(WebApplication app, IDashboardSource source, DashboardOptions options)
    {
        _app = app;
        _source = source;
        _options = options;
    }

    /// <summary>Where the page is, e.g. <c>http://127.0.0.1:8080/</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Starts serving <paramref name="source"/> as <paramref name="options"/> say.</summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    /// <exception cref="InvalidOperationException">The port could not be listened on; the message names host and port.</exception>
    public static async Task<DashboardServer> StartAsync(DashboardOptions options, IDashboardSource source, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(source);
        options.Validate();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(ListenAddress(options.Host), options.Port);
        });
        builder.Services.AddSingleton(loggerFactory ?? NullLoggerFactory.Instance);
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        var server = new DashboardServer(app, source, options);
        app.UseRouting();
        app.MapGet("/", server.ServePageAsync);
        app.MapGet("/api/state", server.ServeStateAsync);
        app.MapGet("/api/events", server.ServeEventsAsync);
        app.MapPost("/api/actions/{kind}", server.ServeActionAsync);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            await app.DisposeAsync();
            throw new InvalidOperationException($"The dashboard could not listen on {options.Host}:{options.Port} (DashboardOptions.Host/Port): {exception.GetBaseException().Message}", exception);
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "localhost", StringComparison.Ordinal)).Port;
        var host = options.Host is "0.0.0.0" or "::" ? "127.0.0.1" : options.Host;
        server.Address = new Uri($"http://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}/");
        return server;
    }

    /// <summary>Stops serving; open pages see the connection end.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        _stopping.Dispose();
        _reading.Dispose();
    }

    private async Task ServePageAsync(HttpContext context)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers["Content-Security-Policy"] = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";
        await context.Response.Body.WriteAsync(Page.Value, context.RequestAborted);
    }

    private async Task ServeStateAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.Body.WriteAsync(await ReadJsonAsync(context.RequestAborted), context.RequestAborted);
    }

    /// <summary>Server-sent events: one <c>state</c> event at once and one every refresh interval, until the page goes or the server stops.</summary>
    private async Task ServeEventsAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        try
        {
            while (!ending.IsCancellationRequested)
            {
                var json = await ReadJsonAsync(ending.Token);
                await context.Response.Body.WriteAsync("event: state\ndata: "u8.ToArray(), ending.Token);
                await context.Response.Body.WriteAsync(json, ending.Token);
                await context.Response.Body.WriteAsync("\n\n"u8.ToArray(), ending.Token);
                await context.Response.Body.FlushAsync(ending.Token);
                await Task.Delay(_options.RefreshInterval, ending.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // the page went away, or the server stops
        }
    }

    private async Task ServeActionAsync(HttpContext context)
    {
        if (_options.Token is null || !_source.CanAct)
        {
            await ReplyAsync(context, StatusCodes.Status403Forbidden, "This dashboard is read-only: actions need DashboardOptions.Token (served by a node).");
            return;
        }

        if (!Authorized(context.Request.Headers.Authorization.ToString(), _options.Token))
        {
            await ReplyAsync(context, StatusCodes.Status401Unauthorized, "Actions need the header 'Authorization: Bearer TOKEN' with the dashboard's token.");
            return;
        }

        var kind = (string)context.Request.RouteValues["kind"]!;
        var action = new DashboardAction(kind, context.Request.Query["name"].FirstOrDefault(), context.Request.Query["key"].FirstOrDefault());
        try
        {
            await ReplyAsync(context, StatusCodes.Status200OK, await _source.ActAsync(action, context.RequestAborted));
        }
        catch (ArgumentException exception)
        {
            await ReplyAsync(context, StatusCodes.Status400BadRequest, exception.Message);
        }
        catch (InvalidOperationException exception)
        {
            await ReplyAsync(context, StatusCodes.Status409Conflict, exception.Message);
        }
    }

    /// <summary>The state as JSON: read at most once per half refresh interval, however many pages are open.</summary>
    private async Task<byte[]> ReadJsonAsync(CancellationToken cancellationToken)
    {
        await _reading.WaitAsync(cancellationToken);
        try
        {
            if (_latest.Json.Length > 0 && System.Diagnostics.Stopwatch.GetElapsedTime(_latest.At) < _options.RefreshInterval / 2)
            {
                return _latest.Json;
            }

            var state = await _source.ReadAsync(cancellationToken);
            var json = JsonSerializer.SerializeToUtf8Bytes(state with { ActionsAllowed = _options.Token is not null && _source.CanAct }, Json);
            _latest = (json, System.Diagnostics.Stopwatch.GetTimestamp());
            return json;
        }
        finally
        {
            _reading.Release();
        }
    }

    private static async Task ReplyAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(new { message }, Json), context.RequestAborted);
    }

    /// <summary>Compares the bearer token in constant time.</summary>
    private static bool Authorized(string header, string token)
    {
        const string Scheme = "Bearer ";
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[Scheme.Length..].Trim()), Encoding.UTF8.GetBytes(token));
    }

    private static IPAddress ListenAddress(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var address) ? address
        : throw new ArgumentException($"DashboardOptions.Host must be an IP address or localhost, not '{host}'.", nameof(host));

    private static byte[] LoadPage()
    {
        using var stream = typeof(DashboardServer).Assembly.GetManifestResourceStream("Recall.Cluster.Dashboard.dashboard.html")
            ?? throw new InvalidOperationException("The dashboard page is missing from Recall.Cluster (embedded resource Recall.Cluster.Dashboard.dashboard.html).");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}

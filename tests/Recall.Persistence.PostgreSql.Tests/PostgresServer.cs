using System.Diagnostics;
using Npgsql;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>
/// The server the tests use: RECALL_POSTGRES (a connection string) names it. ./test.sh starts a
/// throwaway one and also exports RECALL_POSTGRES_BIN, RECALL_POSTGRES_DATA and
/// RECALL_POSTGRES_RUNAS (the OS account that owns the data folder when the tests run as root),
/// which the tests that restart the server need. Every test works in a schema of its own.
/// </summary>
public static class PostgresServer
{
    public static string? ConnectionString { get; } = Read("RECALL_POSTGRES");

    private static string? Bin { get; } = Read("RECALL_POSTGRES_BIN");

    private static string? Data { get; } = Read("RECALL_POSTGRES_DATA");

    public static string Required => ConnectionString ?? throw new InvalidOperationException("RECALL_POSTGRES is not set.");

    /// <summary>
    /// Why tests that need the server cannot run here, or null when they can. With
    /// RECALL_REQUIRE_POSTGRES=1 (CI) nothing is skipped: a missing server fails the tests instead.
    /// </summary>
    public static string? SkipReason(bool serverControl)
    {
        if (Read("RECALL_REQUIRE_POSTGRES") == "1")
        {
            return null;
        }

        if (ConnectionString is null)
        {
            return "SKIPPED: no PostgreSQL. Set RECALL_POSTGRES to a connection string, or run ./test.sh with PostgreSQL's initdb and pg_ctl installed (it starts a throwaway server).";
        }

        if (serverControl && (Bin is null || Data is null))
        {
            return "SKIPPED: this test stops and starts the server, so it needs the throwaway server of ./test.sh (RECALL_POSTGRES_BIN and RECALL_POSTGRES_DATA), not the one RECALL_POSTGRES names.";
        }

        return null;
    }

    /// <summary>A schema name no other test uses.</summary>
    public static string NewSchema(string purpose) => $"t_{purpose}_{Guid.NewGuid():N}"[..Math.Min(63, purpose.Length + 3 + 16)];

    /// <summary>Store settings for <paramref name="schema"/>, with small pools (tests run side by side on one server).</summary>
    public static PostgreSqlStoreOptions Options(string schema) => new()
    {
        ConnectionString = Required,
        Schema = schema,
        MaxReadConnections = 6,
        MaxWriteConnections = 3,
    };

    public static async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Required) { Pooling = false, ApplicationName = "recall-tests" }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public static async Task ExecuteAsync(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public static Task DropSchemaAsync(string schema) => ExecuteAsync($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");

    /// <summary>Stops the server as a crash would (immediate mode: no checkpoint, WAL recovery on start), waits, and starts it again.</summary>
    public static async Task CrashAndRestartAsync(TimeSpan downtime)
    {
        await PgCtlAsync("stop", "-m", "immediate", "-w");
        await Task.Delay(downtime);

        // restart on a stopped server starts it with the options of its last start (postmaster.opts).
        await PgCtlAsync("restart", "-w", "-l", Path.Combine(Path.GetDirectoryName(Data)!, "server.log"));
    }

    private static async Task PgCtlAsync(params string[] arguments)
    {
        var pgCtl = Path.Combine(Bin!, "pg_ctl");
        var runAs = Read("RECALL_POSTGRES_RUNAS") ?? (Environment.UserName == "root" ? await OwnerOfAsync(Data!) : null);
        var start = runAs is null || runAs == Environment.UserName ? new ProcessStartInfo(pgCtl) : new ProcessStartInfo("runuser");
        if (start.FileName == "runuser")
        {
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add(runAs!);
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(pgCtl);
        }

        start.ArgumentList.Add("-D");
        start.ArgumentList.Add(Data!);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg_ctl {string.Join(' ', arguments)} failed ({process.ExitCode}): {await output} {await error}");
        }
    }

    private static async Task<string> OwnerOfAsync(string path)
    {
        using var process = Process.Start(new ProcessStartInfo("stat", ["-c", "%U", path]) { RedirectStandardOutput = true })!;
        var owner = (await process.StandardOutput.ReadToEndAsync()).Trim();
        await process.WaitForExitAsync();
        return owner;
    }

    private static string? Read(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}

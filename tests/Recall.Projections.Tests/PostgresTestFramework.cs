using Npgsql;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("Recall.Projections.Tests.PostgresTestFramework", "Recall.Projections.Tests")]

namespace Recall.Projections.Tests;

/// <summary>
/// Marks a test class that needs a PostgreSQL server (RECALL_POSTGRES, which ./test.sh sets when it
/// starts its throwaway server). Without one its tests are reported as skipped with the reason; with
/// RECALL_REQUIRE_POSTGRES=1 (CI) they run and fail instead.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresPostgresAttribute : Attribute;

/// <summary>Skips the tests of [RequiresPostgres] classes at discovery when there is no server (xunit 2 cannot skip at run time).</summary>
public sealed class PostgresTestFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    protected override ITestFrameworkDiscoverer CreateDiscoverer(IAssemblyInfo assemblyInfo) =>
        new Discoverer(assemblyInfo, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Discoverer(IAssemblyInfo assemblyInfo, ISourceInformationProvider sourceProvider, IMessageSink diagnosticMessageSink)
        : XunitTestFrameworkDiscoverer(assemblyInfo, sourceProvider, diagnosticMessageSink)
    {
        protected override bool FindTestsForMethod(ITestMethod testMethod, bool includeSourceInformation, IMessageBus messageBus, ITestFrameworkDiscoveryOptions discoveryOptions)
        {
            var needsServer = testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresPostgresAttribute).AssemblyQualifiedName).Any();
            var reason = needsServer ? Postgres.SkipReason : null;
            if (reason is null)
            {
                return base.FindTestsForMethod(testMethod, includeSourceInformation, messageBus, discoveryOptions);
            }

            if (!testMethod.Method.GetCustomAttributes(typeof(FactAttribute).AssemblyQualifiedName).Any())
            {
                return true;
            }

            var testCase = new SkippedTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason);
            return ReportDiscoveredTestCase(testCase, includeSourceInformation, messageBus);
        }
    }
}

/// <summary>A test case reported as skipped, with a reason.</summary>
public sealed class SkippedTestCase : XunitTestCase
{
    private string _reason = "";

    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public SkippedTestCase()
    {
    }

    public SkippedTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod testMethod, string reason)
        : base(diagnosticMessageSink, display, options, testMethod)
    {
        _reason = reason;
    }

    public override void Serialize(IXunitSerializationInfo data)
    {
        base.Serialize(data);
        data.AddValue("SkipReasonText", _reason);
    }

    public override void Deserialize(IXunitSerializationInfo data)
    {
        _reason = data.GetValue<string>("SkipReasonText");
        base.Deserialize(data);
    }

    protected override void Initialize()
    {
        base.Initialize();
        SkipReason = _reason;
    }
}

/// <summary>The server the PostgreSQL tests use: RECALL_POSTGRES names it. Each test works in a schema of its own.</summary>
public static class Postgres
{
    public static string? ConnectionString { get; } = Environment.GetEnvironmentVariable("RECALL_POSTGRES") is { Length: > 0 } value ? value : null;

    public static string Required => ConnectionString ?? throw new InvalidOperationException("RECALL_POSTGRES is not set.");

    /// <summary>Why the tests cannot run here, or null when they can (always null with RECALL_REQUIRE_POSTGRES=1).</summary>
    public static string? SkipReason =>
        Environment.GetEnvironmentVariable("RECALL_REQUIRE_POSTGRES") == "1" || ConnectionString is not null
            ? null
            : "SKIPPED: no PostgreSQL. Set RECALL_POSTGRES to a connection string, or run ./test.sh with PostgreSQL's initdb and pg_ctl installed (it starts a throwaway server).";

    public static string NewSchema(string purpose) => $"t_{purpose}_{Guid.NewGuid():N}"[..Math.Min(63, purpose.Length + 3 + 16)];

    public static async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Required) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    public static Task DropSchemaAsync(string schema) => ScalarAsync($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
}

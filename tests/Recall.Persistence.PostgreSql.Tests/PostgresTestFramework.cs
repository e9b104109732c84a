using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("Recall.Persistence.PostgreSql.Tests.PostgresTestFramework", "Recall.Persistence.PostgreSql.Tests")]

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>
/// Marks a test class that needs a PostgreSQL server. Without one (RECALL_POSTGRES unset) every test
/// of the class, including the ones it inherits from the conformance suites, is reported as
/// skipped with the reason, instead of failing or passing silently.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresPostgresAttribute : Attribute
{
    /// <summary>The tests stop and start the server: they need the throwaway server of ./test.sh, not any server.</summary>
    public bool ServerControl { get; set; }
}

/// <summary>
/// xunit 2 cannot skip a test at run time, and the conformance tests carry a plain [Fact] from their
/// base class: this framework skips them at discovery when the server they need is missing.
/// </summary>
public sealed class PostgresTestFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    protected override ITestFrameworkDiscoverer CreateDiscoverer(IAssemblyInfo assemblyInfo) =>
        new Discoverer(assemblyInfo, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Discoverer(IAssemblyInfo assemblyInfo, ISourceInformationProvider sourceProvider, IMessageSink diagnosticMessageSink)
        : XunitTestFrameworkDiscoverer(assemblyInfo, sourceProvider, diagnosticMessageSink)
    {
        protected override bool FindTestsForMethod(ITestMethod testMethod, bool includeSourceInformation, IMessageBus messageBus, ITestFrameworkDiscoveryOptions discoveryOptions)
        {
            var requirement = testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresPostgresAttribute).AssemblyQualifiedName).FirstOrDefault();
            var reason = requirement is null ? null : PostgresServer.SkipReason(requirement.GetNamedArgument<bool>(nameof(RequiresPostgresAttribute.ServerControl)));
            if (reason is null)
            {
                return base.FindTestsForMethod(testMethod, includeSourceInformation, messageBus, discoveryOptions);
            }

            if (!testMethod.Method.GetCustomAttributes(typeof(FactAttribute).AssemblyQualifiedName).Any())
            {
                return true;
            }

            var testCase = new SkippedTestCase(
                DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason);
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

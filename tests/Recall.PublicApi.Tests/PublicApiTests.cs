using System.Reflection;
using System.Text;
using PublicApiGenerator;

namespace Recall.PublicApi.Tests;

/// <summary>
/// The public API of every library under src/ is kept in <c>tests/Recall.PublicApi.Tests/api/NAME.txt</c>:
/// any change to it (an accidental breaking change, or a new member) fails this test until the new
/// surface is accepted with <c>RECALL_ACCEPT_API=1</c> (see docs/contributing.md) and the file committed,
/// so every change of the public API shows up in review as a diff of that file.
/// </summary>
public sealed class PublicApiTests
{
    /// <summary>Set to 1 to write the current surface of every assembly as the approved one.</summary>
    public const string AcceptVariable = "RECALL_ACCEPT_API";

    private static readonly ApiGeneratorOptions Options = new()
    {
        // InternalsVisibleTo, the target framework, metadata: not API, and they change with the tests.
        IncludeAssemblyAttributes = false,
        TreatRecordsAsClasses = false,

        // Compiler-generated state machine names change whenever a field is added: not API.
        ExcludeAttributes = ["System.Runtime.CompilerServices.AsyncIteratorStateMachineAttribute", "System.Runtime.CompilerServices.AsyncStateMachineAttribute", "System.Runtime.CompilerServices.IteratorStateMachineAttribute"],
    };

    /// <summary>Every library project under src/ (a project that builds an executable has no public API to keep).</summary>
    public static TheoryData<string> Libraries()
    {
        var data = new TheoryData<string>();
        foreach (var project in Directory.GetFiles(Path.Combine(Repository.Root, "src"), "*.csproj", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (!File.ReadAllText(project).Contains("<OutputType>Exe</OutputType>", StringComparison.Ordinal))
            {
                data.Add(Path.GetFileNameWithoutExtension(project));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Libraries))]
    public void The_public_api_is_the_approved_one(string library)
    {
        var file = Path.Combine(AppContext.BaseDirectory, library + ".dll");
        Assert.True(File.Exists(file), $"{library}.dll is not next to the tests: is src/{library} a library whose assembly name is its project name?");
        var current = Surface(Assembly.LoadFrom(file));
        var approvedPath = Path.Combine(Repository.Root, "tests", "Recall.PublicApi.Tests", "api", library + ".txt");
        var approved = File.Exists(approvedPath) ? File.ReadAllText(approvedPath).ReplaceLineEndings("\n") : null;
        if (approved == current)
        {
            return;
        }

        if (Environment.GetEnvironmentVariable(AcceptVariable) == "1")
        {
            File.WriteAllText(approvedPath, current);
            return;
        }

        Assert.Fail(
            (approved is null ? $"{library} has no approved public API yet ({approvedPath})." : $"The public API of {library} changed.") +
            $" If the change is intended, accept it with `{AcceptVariable}=1 dotnet test tests/Recall.PublicApi.Tests` (or `{AcceptVariable}=1 ./test.sh`) and commit the file.\n" +
            Difference(approved ?? "", current));
    }

    [Fact]
    public void The_surface_holds_public_members_and_leaves_out_internal_ones()
    {
        var surface = Surface(typeof(PublicApiTests).Assembly);

        Assert.Contains("public sealed class PublicApiTests", surface, StringComparison.Ordinal);
        Assert.Contains("public void The_public_api_is_the_approved_one(string library)", surface, StringComparison.Ordinal);
        Assert.DoesNotContain("Repository", surface, StringComparison.Ordinal);
        Assert.DoesNotContain("Difference", surface, StringComparison.Ordinal);
    }

    [Fact]
    public void A_difference_names_the_removed_and_the_added_lines()
    {
        var difference = Difference("public void Alpha() { }\npublic void Beta() { }\n}\n", "public void Alpha() { }\npublic void Gamma() { }\n}\n");

        Assert.Contains("- public void Beta() { }", difference, StringComparison.Ordinal);
        Assert.Contains("+ public void Gamma() { }", difference, StringComparison.Ordinal);
        Assert.DoesNotContain("Alpha", difference, StringComparison.Ordinal);
    }

    private static string Surface(Assembly assembly) => assembly.GeneratePublicApi(Options).ReplaceLineEndings("\n").TrimEnd('\n') + "\n";

    /// <summary>The lines only in the approved surface (-) and only in the current one (+), at most 60 of each.</summary>
    private static string Difference(string approved, string current)
    {
        var before = approved.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 1).ToHashSet(StringComparer.Ordinal);
        var after = current.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 1).ToHashSet(StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (var line in before.Where(l => !after.Contains(l)).Take(60))
        {
            text.Append("- ").AppendLine(line);
        }

        foreach (var line in after.Where(l => !before.Contains(l)).Take(60))
        {
            text.Append("+ ").AppendLine(line);
        }

        return text.ToString();
    }

    private static class Repository
    {
        /// <summary>The checkout: the folder above the test binaries that holds Recall.slnx.</summary>
        public static string Root { get; } = Find();

        private static string Find()
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                if (File.Exists(Path.Combine(folder.FullName, "Recall.slnx")))
                {
                    return folder.FullName;
                }
            }

            throw new InvalidOperationException($"Recall.slnx not found above {AppContext.BaseDirectory}.");
        }
    }
}

using Recall.Samples.FileJournal;
using Recall.TestKit.Conformance;

namespace Recall.Persistence.Tests;

/// <summary>The journal of docs/custom-store.md passes the conformance suite, in a fresh folder per test.</summary>
public sealed class FileJournalConformanceTests : JournalConformance, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("recall-file-journal-").FullName;

    protected override IJournal CreateJournal(EventSerialization serialization) => new FileJournal(_folder, serialization);

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}

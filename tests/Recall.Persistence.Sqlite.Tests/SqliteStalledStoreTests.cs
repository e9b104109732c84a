using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Recall.TestKit.Conformance;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>
/// The stalled-store items on a SQLite file. Writes are held by another connection's write
/// transaction; reads by a lock on the write-ahead log's read marks in the -shm file (in WAL mode
/// nothing else keeps a reader out), taken as an open-file-description lock, which SQLite's own
/// locks in this process respect (Linux: the lock bytes are those of SQLite's unix build).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class SqliteStalledStoreTests : StalledStoreConformance
{
    // The shared-memory lock bytes start at offset 120; the five read marks are locks 3 to 7.
    private const long ReadMarkLocks = 120 + 3;
    private const long ReadMarkCount = 5;

    private const int OpenFileDescriptionSetLock = 37; // F_OFD_SETLK
    private const short WriteLock = 1;                 // F_WRLCK

    private readonly TempDatabase _database = new();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }

    protected override void Configure(PersistenceOptions persistence) =>
        persistence.UseSqlite(o =>
        {
            o.Path = _database.Path;
            o.BusyTimeout = TimeSpan.FromMinutes(2);
        });

    protected override Task<IAsyncDisposable> HoldReadsAsync()
    {
        var shm = new FileStream(_database.Path + "-shm", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        var region = new FileRegionLock { Type = WriteLock, Whence = 0, Start = ReadMarkLocks, Length = ReadMarkCount };
        if (FileControl(shm.SafeFileHandle.DangerousGetHandle().ToInt32(), OpenFileDescriptionSetLock, ref region) != 0)
        {
            throw new IOException($"Could not lock the read marks of {shm.Name}: error {Marshal.GetLastPInvokeError()}.");
        }

        return Task.FromResult<IAsyncDisposable>(shm); // closing the file releases its lock
    }

    protected override async Task<IAsyncDisposable> HoldWritesAsync()
    {
        var connection = await _database.OpenConnectionAsync();
        await using (var begin = connection.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }

        return connection; // closing it rolls the transaction back and lets the store's writer in
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int FileControl(int descriptor, int command, ref FileRegionLock region);

    /// <summary>Linux's <c>struct flock</c> (64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct FileRegionLock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int ProcessId;
    }
}

using System.Globalization;

namespace Recall.Benchmarks;

/// <summary>Settings of the harness: what the command line of the program (or of <c>recall bench</c>) selected.</summary>
public sealed class BenchOptions
{
    /// <summary>The workloads to run (case-insensitive); empty means all.</summary>
    public HashSet<string> Workloads { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The stores to run on (case-insensitive): none, memory, sqlite, postgres (see <see cref="KnownStore"/>); empty means all.</summary>
    public HashSet<string> Stores { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Measured runs per workload × store. Default 3.</summary>
    public int Runs { get; set; } = 3;

    /// <summary>Unmeasured warm-up runs before them. Default 1.</summary>
    public int Warmups { get; set; } = 1;

    /// <summary>Divides every N (smoke tests only; never for recorded figures).</summary>
    public int ScaleDown { get; set; } = 1;

    /// <summary>PostgreSQL connection string for the postgres store (env RECALL_BENCH_POSTGRES by default).</summary>
    public string? Postgres { get; set; } = Environment.GetEnvironmentVariable("RECALL_BENCH_POSTGRES");

    /// <summary>
    /// The serializer of the remote workloads' messages: <c>binary</c> (the default, a hand-written
    /// 8-byte Ping as the anchors use) or <c>json</c> (remoting's default, System.Text.Json).
    /// </summary>
    public string Serializer { get; set; } = "binary";

    /// <summary>
    /// RemotingOptions.OutboundQueueCapacity of both nodes in the remote workloads. Default
    /// 1,000,000 so the burst of remote-oneway (400,000 messages without back-pressure, as in the
    /// anchors) fits; the library's default is 100,000.
    /// </summary>
    public int RemoteQueueCapacity { get; set; } = DefaultRemoteQueueCapacity;

    /// <summary>The default of <see cref="RemoteQueueCapacity"/>.</summary>
    public const int DefaultRemoteQueueCapacity = 1_000_000;

    /// <summary>List the workloads instead of running them.</summary>
    public bool ListOnly { get; set; }

    /// <summary>Reads the program's arguments; throws <see cref="ArgumentException"/> naming the first that is wrong.</summary>
    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--workload":
                case "--workloads":
                case "--only":
                    options.Workloads.UnionWith(Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    break;
                case "--store":
                case "--stores":
                    options.Stores.UnionWith(Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(StoreName));
                    break;
                case "--runs":
                    options.Runs = PositiveInt(args[i], Value(), allowZero: false);
                    break;
                case "--warmups":
                    options.Warmups = PositiveInt(args[i], Value(), allowZero: true);
                    break;
                case "--scale-down":
                    options.ScaleDown = PositiveInt(args[i], Value(), allowZero: false);
                    break;
                case "--postgres":
                    options.Postgres = Value();
                    break;
                case "--serializer":
                {
                    var serializer = Value();
                    options.Serializer = serializer is "binary" or "json" ? serializer : throw new ArgumentException($"--serializer is binary or json, not '{serializer}'");
                    break;
                }

                case "--remote-queue-capacity":
                    options.RemoteQueueCapacity = PositiveInt(args[i], Value(), allowZero: false);
                    break;
                case "--list":
                    options.ListOnly = true;
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }

        return options;
    }

    /// <summary>
    /// The store's name as the workloads use it: none, memory, sqlite or postgres (<c>postgresql</c>, as
    /// hosting configuration spells it, is the same store); any case. Null when it names no store.
    /// </summary>
    public static string? KnownStore(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.ToLowerInvariant() switch
        {
            "none" or "memory" or "sqlite" or "postgres" => name.ToLowerInvariant(),
            "postgresql" => "postgres",
            _ => null,
        };
    }

    /// <summary>The message for a name that is not a store.</summary>
    public static string NotAStore(string name) => $"--store '{name}' is not a store: none, memory, sqlite or postgres (postgresql also works)";

    private static string StoreName(string name) => KnownStore(name) ?? throw new ArgumentException(NotAStore(name));

    private static int PositiveInt(string flag, string value, bool allowZero)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < (allowZero ? 0 : 1))
        {
            throw new ArgumentException($"{flag} needs a whole number {(allowZero ? ">= 0" : ">= 1")}, not '{value}'");
        }

        return n;
    }
}

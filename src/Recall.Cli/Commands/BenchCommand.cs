using System.ComponentModel;
using System.Globalization;
using Recall.Benchmarks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli.Commands;

/// <summary><c>recall bench</c>: the workloads of bench/Recall.Benchmarks, in-process, with progress bars and a table of results.</summary>
internal sealed class BenchModule : ICommandModule
{
    public int Order => 50;

    public void Register(IConfigurator app) => app.AddCommand<BenchCommand>("bench")
        .WithDescription("Run the benchmark workloads (--list names them; each is defined in bench/Recall.Benchmarks/README.md of the repository) with a progress display and a table of results.")
        .WithExample("bench", "--workload", "persist-seq,recover", "--store", "sqlite")
        .WithExample("bench", "--store", "postgres", "--postgres", "\"Host=db;Database=bench;Username=app\"")
        .WithExample("bench", "--list");
}

/// <summary>Settings of <c>recall bench</c>: those of the harness program.</summary>
internal sealed class BenchSettings : CommandSettings
{
    /// <summary>The workloads to run.</summary>
    [CommandOption("-w|--workload <NAMES>")]
    [Description("Workloads to run, comma-separated or repeated (default: all; see --list)")]
    public string[] Workloads { get; set; } = [];

    /// <summary>The stores to run on.</summary>
    [CommandOption("-s|--store <NAMES>")]
    [Description("Stores to run on: none, memory, sqlite, postgres (or postgresql); comma-separated or repeated (default: all)")]
    public string[] Stores { get; set; } = [];

    /// <summary>The PostgreSQL server of the postgres store.</summary>
    [CommandOption("--postgres <CONNECTION>")]
    [Description("Npgsql connection string for the postgres store (default: RECALL_BENCH_POSTGRES); each run works in a schema of its own")]
    public string? Postgres { get; set; }

    /// <summary>Measured runs.</summary>
    [CommandOption("--runs <N>")]
    [Description("Measured runs per workload and store (default 3; the median is reported)")]
    public int Runs { get; set; } = 3;

    /// <summary>Warm-up runs.</summary>
    [CommandOption("--warmups <N>")]
    [Description("Unmeasured warm-up runs before them (default 1)")]
    public int Warmups { get; set; } = 1;

    /// <summary>Divides every N.</summary>
    [CommandOption("--scale-down <K>")]
    [Description("Divide every workload's size by K (smoke tests only; never for recorded figures)")]
    public int ScaleDown { get; set; } = 1;

    /// <summary>JSON lines instead of the progress display and the table.</summary>
    [CommandOption("--json")]
    [Description("Print the harness's JSON result lines (one per workload and store, as bench/Recall.Benchmarks prints them) instead of progress and a table")]
    public bool Json { get; set; }

    /// <summary>List instead of running.</summary>
    [CommandOption("--list")]
    [Description("List the workloads and their stores instead of running them")]
    public bool List { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        Runs < 1 ? ValidationResult.Error("--runs must be at least 1.")
        : Warmups < 0 ? ValidationResult.Error("--warmups must not be negative.")
        : ScaleDown < 1 ? ValidationResult.Error("--scale-down must be at least 1.")
        : Stores.SelectMany(Split).FirstOrDefault(s => BenchOptions.KnownStore(s) is null) is { } wrong ? ValidationResult.Error(BenchOptions.NotAStore(wrong) + ".")
        : ValidationResult.Success();

    /// <summary>The harness options these settings stand for.</summary>
    public BenchOptions ToOptions()
    {
        var options = new BenchOptions { Runs = Runs, Warmups = Warmups, ScaleDown = ScaleDown, ListOnly = List };
        options.Workloads.UnionWith(Workloads.SelectMany(Split));
        options.Stores.UnionWith(Stores.SelectMany(Split).Select(s => BenchOptions.KnownStore(s)!));
        if (Postgres is not null)
        {
            options.Postgres = Postgres;
        }

        return options;
    }

    private static string[] Split(string names) => names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary><c>recall bench</c>.</summary>
internal sealed class BenchCommand(IAnsiConsole console) : AsyncCommand<BenchSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, BenchSettings settings, CancellationToken cancellationToken)
    {
        var options = settings.ToOptions();
        var display = new ProgressDisplay();
        var runner = new Runner(options, settings.Json ? new JsonLinesObserver(console.Profile.Out.Writer, TextWriter.Null) : display);
        if (options.ListOnly)
        {
            var list = new Listing("workload", "stores", "n");
            foreach (var (name, stores, n) in runner.Workloads)
            {
                list.Add(Cell.Text(name), new(Markup.Escape(string.Join(", ", stores)), stores), new(Number(n), n));
            }

            list.WriteTo(console, settings.Json);
            return 0;
        }

        if (runner.UnknownWorkloads is { Count: > 0 } unknown)
        {
            throw new CliException(
                $"unknown workload(s): {string.Join(", ", unknown)}; known: {string.Join(", ", runner.Workloads.Select(w => w.Name))}",
                RecallApp.UsageError);
        }

        if (runner.Selected.Count == 0)
        {
            throw new CliException("nothing selected: check --workload and --store (see 'recall bench --list')", RecallApp.UsageError);
        }

        if (settings.Json)
        {
            return await runner.RunAsync(cancellationToken);
        }

        // Progress bars only on a terminal: piped output holds the table and the notes under it.
        var environment = $"[grey]{Markup.Escape(runner.DescribeEnvironment())}[/]";
        var exitCode = 0;
        if (console.Profile.Capabilities.Interactive)
        {
            console.MarkupLine(environment);
            await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .StartAsync(async progress =>
                {
                    display.Attach(progress, runner.Selected);
                    exitCode = await runner.RunAsync(cancellationToken);
                });
        }
        else
        {
            exitCode = await runner.RunAsync(cancellationToken);
            display.Notes.Add(environment);
        }

        console.Write(display.ResultTable());
        foreach (var line in display.Notes)
        {
            console.MarkupLine(line);
        }

        return exitCode;
    }

    private static string Number(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Turns the runner's reports into one progress bar per workload × store, and keeps the results for the table.</summary>
    private sealed class ProgressDisplay : IBenchObserver
    {
        private readonly Dictionary<BenchPair, ProgressTask> _tasks = [];
        private readonly List<(BenchPair Pair, BenchResult? Result, string? Error)> _outcomes = [];

        /// <summary>Lines to print under the table: skipped pairs and failures.</summary>
        public List<string> Notes { get; } = [];

        public void Attach(ProgressContext progress, IReadOnlyList<BenchPair> pairs)
        {
            foreach (var pair in pairs)
            {
                _tasks[pair] = progress.AddTask(Label(pair, "waiting"), autoStart: false, maxValue: 1);
            }
        }

        public void Log(string message)
        {
            // The JSON-lines program prints these on stderr; here the bars and the table say the same.
        }

        public void Started(BenchPair pair, int steps)
        {
            if (!_tasks.TryGetValue(pair, out var task))
            {
                return;
            }

            task.MaxValue = steps;
            task.Description = Label(pair, "preparing");
            task.StartTask();
        }

        public void Stepped(BenchPair pair, string step)
        {
            if (!_tasks.TryGetValue(pair, out var task))
            {
                return;
            }

            task.Increment(1);
            task.Description = Label(pair, step);
        }

        public void Completed(BenchResult result)
        {
            if (_tasks.TryGetValue(result.Pair, out var task))
            {
                task.Description = Label(result.Pair, $"[green]{Number(result.PerSecond)}/s[/]");
                task.Value = task.MaxValue;
                task.StopTask();
            }

            _outcomes.Add((result.Pair, result, null));
        }

        public void Failed(BenchPair pair, Exception exception)
        {
            if (_tasks.TryGetValue(pair, out var task))
            {
                task.Description = Label(pair, "[red]FAILED[/]");
                task.StopTask();
            }

            var message = exception is BenchCheckException ? exception.Message : $"{exception.GetType().Name}: {exception.Message}";
            _outcomes.Add((pair, null, message));
            Notes.Add($"[red]{Markup.Escape($"{pair.Workload}/{pair.Store} failed: {RecallApp.OneLine(message)}")}[/]");
        }

        public void Skipped(BenchPair pair, string reason)
        {
            if (_tasks.TryGetValue(pair, out var task))
            {
                task.Description = Label(pair, "[grey]skipped[/]");
                task.StopTask();
            }

            Notes.Add($"[grey]{Markup.Escape($"{pair.Workload}/{pair.Store} skipped: {reason}")}[/]");
        }

        public Table ResultTable()
        {
            var table = new Table().AddColumns("workload", "store", "n", "median s", "per second", "runs (s)", "extra");
            foreach (var column in table.Columns.Skip(2).Take(3))
            {
                column.RightAligned();
            }

            foreach (var (pair, result, error) in _outcomes)
            {
                table.AddRow(
                    Markup.Escape(pair.Workload),
                    Markup.Escape(pair.Store),
                    Number(pair.N),
                    result is null ? "" : result.Seconds.ToString("F4", CultureInfo.InvariantCulture),
                    result is null ? "[red]FAILED[/]" : Number(result.PerSecond),
                    result is null ? "" : string.Join(" ", result.Runs.Select(s => s.ToString("F4", CultureInfo.InvariantCulture))),
                    result is null
                        ? Markup.Escape(error ?? "")
                        : Markup.Escape(string.Join(" ", result.Extra.Select(e => $"{e.Key}={e.Value.ToString("0.####", CultureInfo.InvariantCulture)}"))));
            }

            return table;
        }

        private static string Label(BenchPair pair, string state) => $"{Markup.Escape(pair.Workload)}/{Markup.Escape(pair.Store)}: {state}";
    }
}

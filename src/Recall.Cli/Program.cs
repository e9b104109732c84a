using Recall.Cli;

return args switch
{
    ["demo", ..] => await KernelDemo.RunAsync(Console.Out),
    [] or ["help" or "--help" or "-h"] => Usage(Console.Out, 0),
    _ => Usage(Console.Error, 2),
};

static int Usage(TextWriter writer, int exitCode)
{
    writer.WriteLine("usage: recall <command>");
    writer.WriteLine();
    writer.WriteLine("commands:");
    writer.WriteLine("  demo    a supervised pipeline that crashes and heals");
    return exitCode;
}

using System.Runtime.InteropServices;
using GruDemo;
using GruDemo.Stack;
using GruDemo.Story;
using GruDemo.View;
using Spectre.Console;

// gru-demo (`make demo`): the whole canary story on this machine. Flags: --plain (lines, no live view), --keep (keep the
// work directory with its logs), --cluster-port N. DEMO_CLUSTER=current uses the cluster in KUBECONFIG instead of LocalCluster.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("""
        gru-demo: starts LocalCluster (or, with DEMO_CLUSTER=current, uses the cluster in KUBECONFIG), the node agent,
        Prometheus, a registry, the operator and a load generator, then publishes v1, v2 (promoted by canary analysis)
        and a slow v3 (rolled back), showing the rollout live. Everything it started stops on exit, Ctrl-C too.

          --plain            plain lines instead of the live view (the default without a terminal, or with CI set)
          --keep             keep the work directory (kubeconfig, logs, pod directories) after the end
          --cluster-port N   LocalCluster's API server port (default: a free one)
        """);
    return 0;
}

var plain = args.Contains("--plain") || Console.IsOutputRedirected || Environment.GetEnvironmentVariable("CI") is { Length: > 0 }
    || !AnsiConsole.Profile.Capabilities.Interactive;
var portIndex = Array.IndexOf(args, "--cluster-port");
var options = new DemoOptions
{
    UseCurrentCluster = string.Equals(Environment.GetEnvironmentVariable("DEMO_CLUSTER"), "current", StringComparison.OrdinalIgnoreCase),
    WorkDirectory = Directory.CreateTempSubdirectory("gru-demo-").FullName,
    KeepWorkDirectory = args.Contains("--keep"),
    ClusterPort = portIndex >= 0 && portIndex + 1 < args.Length && int.TryParse(args[portIndex + 1], out var p) ? p : 0,
};

// Ctrl-C, SIGTERM, a closed terminal: cancel, and let every `await using` below stop what it started.
using var stop = new CancellationTokenSource();
void Cancel(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Cancel);

var failed = true;
try
{
    var parts = new List<string>();
    Console.WriteLine($"gru-demo: work directory {options.WorkDirectory}");
    await using var stack = await DemoStack.StartAsync(options, line =>
    {
        parts.Add(line);
        Console.WriteLine("  " + line);
    }, stop.Token);
    Console.WriteLine($"watch it from another terminal:\n  kubectl --kubeconfig {stack.Kubeconfig} get gru -n {options.Namespace} -w");
    IStoryView view = plain ? new PlainView(Console.Out) : new LiveView(stack.Kubeconfig, parts);
    await view.RunAsync(() => new CanaryStory(stack, view).RunAsync(stop.Token));
    failed = false;
    return 0;
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("gru-demo: interrupted; stopped everything it started");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException or FileNotFoundException or DirectoryNotFoundException
    or HttpRequestException or k8s.Autorest.HttpOperationException)
{
    Console.Error.WriteLine($"gru-demo: {e.Message}");
    return 1;
}
finally
{
    // A failure keeps the logs to read; one before anything started has none.
    if (options.KeepWorkDirectory || failed && !stop.IsCancellationRequested && Directory.EnumerateFileSystemEntries(options.WorkDirectory).Any())
    {
        Console.Error.WriteLine($"gru-demo: logs kept in {options.WorkDirectory}");
    }
    else
    {
        try
        {
            Directory.Delete(options.WorkDirectory, recursive: true);
        }
        catch (IOException)
        {
            // a file a stopping process still held: the temp directory is the system's to clean
        }
    }
}

using System.CommandLine;
using System.Runtime.InteropServices;
using Kube.Local;
using Microsoft.Extensions.Logging;

var kubeconfig = new Option<string>("--kubeconfig")
{
    Description = "Where to write the kubeconfig for this cluster",
    DefaultValueFactory = _ => Path.Combine(".tmp", "local-cluster", "kubeconfig"),
};
var port = new Option<int>("--port")
{
    Description = "Port on 127.0.0.1 (0 picks a free one)",
    DefaultValueFactory = _ => 6443,
};
var http = new Option<bool>("--http") { Description = "Serve plain HTTP instead of HTTPS with a generated CA" };
var deployments = new Option<bool>("--deployment-controller")
{
    Description = "Run the deployment controller (Deployment → ReplicaSet → Pods); on by default for the demo cluster",
    DefaultValueFactory = _ => true,
};
var autoReady = new Option<bool>("--auto-ready-pods")
{
    Description = "Mark new Pods Running and Ready (there is no kubelet); on by default for the demo cluster",
    DefaultValueFactory = _ => true,
};
var history = new Option<int>("--watch-history")
{
    Description = "Changes kept for watch resumption; older resourceVersions get 410 Expired",
    DefaultValueFactory = _ => 10_000,
};

var logLevel = new Option<LogLevel>("--log-level")
{
    Description = "Debug logs every request with its status and duration",
    DefaultValueFactory = _ => LogLevel.Warning,
};

var root = new RootCommand("LocalCluster: an embedded Kubernetes API server on 127.0.0.1 (runs until Ctrl-C)");
root.Options.Add(kubeconfig);
root.Options.Add(port);
root.Options.Add(http);
root.Options.Add(deployments);
root.Options.Add(autoReady);
root.Options.Add(history);
root.Options.Add(logLevel);
root.SetAction(async (parse, commandToken) =>
{
    // Ctrl-C and SIGTERM (docker stop, kill) both mean "stop gracefully, exit 0".
    using var stop = CancellationTokenSource.CreateLinkedTokenSource(commandToken);
    using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
    {
        signal.Cancel = true;
        stop.Cancel();
    });
    using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal =>
    {
        signal.Cancel = true;
        stop.Cancel();
    });
    var ct = stop.Token;
    var options = new LocalClusterOptions
    {
        UseHttps = !parse.GetValue(http),
        Port = parse.GetValue(port),
        DeploymentController = parse.GetValue(deployments),
        AutoReadyPods = parse.GetValue(autoReady),
        WatchHistorySize = parse.GetValue(history),
    };
    // The host's own start-up failure is reported below in one line naming the flag, not as a stack trace.
    using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(parse.GetValue(logLevel))
        .AddFilter("Microsoft.Extensions.Hosting", LogLevel.Critical));
    LocalCluster cluster;
    try
    {
        cluster = await LocalCluster.StartAsync(options, loggerFactory, ct);
    }
    catch (IOException e)
    {
        Console.Error.WriteLine($"error: cannot listen on 127.0.0.1:{options.Port}: {e.Message}. Pick another port with --port.");
        return 1;
    }
    await using (cluster)
    {
        var path = cluster.WriteKubeconfig(parse.GetValue(kubeconfig)!);
        Console.WriteLine($"LocalCluster serving at {cluster.Url}");
        Console.WriteLine($"  kubeconfig:            {path}");
        Console.WriteLine($"  deployment controller: {(options.DeploymentController ? "on" : "off")}");
        Console.WriteLine($"  auto-ready pods:       {(options.AutoReadyPods ? "on" : "off")}");
        Console.WriteLine($"  watch history:         {options.WatchHistorySize} changes");
        Console.WriteLine();
        Console.WriteLine($"  export KUBECONFIG={path}");
        Console.WriteLine("  kubectl get namespaces");
        Console.WriteLine();
        Console.WriteLine("Press Ctrl-C to stop.");
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine("Stopping.");
        }
    }
    return 0;
});
return await root.Parse(args).InvokeAsync();

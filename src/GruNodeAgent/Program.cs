using System.ComponentModel.DataAnnotations;
using GruNodeAgent;
using GruNodeAgent.Node;
using k8s;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

// gru-node-agent: settings from appsettings.json beside the binary, GRU_NODE_AGENT_* environment variables
// (GRU_NODE_AGENT_NodeAgent__GpuCount=2) and the command line (--gpus 2, or --NodeAgent:GpuCount=2).
var switches = new Dictionary<string, string>(StringComparer.Ordinal)
{
    ["--kubeconfig"] = "Kubeconfig",
    ["--node-name"] = "NodeAgent:NodeName",
    ["--gpus"] = "NodeAgent:GpuCount",
    ["--cpu"] = "NodeAgent:Cpu",
    ["--memory"] = "NodeAgent:Memory",
    ["--state-dir"] = "NodeAgent:StateDirectory",
    ["--discovery-url"] = "NodeAgent:DiscoveryUrl",
};
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("""
        gru-node-agent: registers a simulated Node with an API server, schedules pending pods onto it and runs them as
        local processes (images mapped to local commands in appsettings.json, section NodeAgent:Images).

          --kubeconfig PATH      cluster to join (default: $KUBECONFIG, then ~/.kube/config)
          --node-name NAME       the Node's name (gru-local-node)
          --gpus N               simulated nvidia.com/gpu count (0)
          --cpu Q / --memory Q   capacity (default: this machine's)
          --state-dir DIR        pod directories and container logs (default: a temp directory)
          --discovery-url URL    Prometheus http_sd listener (http://127.0.0.1:0); targets at URL/http_sd
          --NodeAgent:KEY=VALUE  any other setting (docs/development.md: Node agent)
        """);
    return 0;
}

var configuration = new ConfigurationBuilder()
    .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
    .AddEnvironmentVariables("GRU_NODE_AGENT_")
    .AddCommandLine(args, switches)
    .Build();
var options = new NodeAgentOptions();
configuration.GetSection(NodeAgentOptions.Section).Bind(options);
var problems = new List<ValidationResult>();
Validator.TryValidateObject(options, new ValidationContext(options), problems, validateAllProperties: true);
foreach (var mapping in options.Images) Validator.TryValidateObject(mapping, new ValidationContext(mapping), problems, validateAllProperties: true);
try
{
    foreach (var taint in options.Taints) NodeRegistration.ParseTaint(taint);
}
catch (FormatException e)
{
    problems.Add(new ValidationResult(e.Message));
}

if (problems.Count > 0)
{
    Console.Error.WriteLine("gru-node-agent: invalid settings:\n  " + string.Join("\n  ", problems.Select(p => (p.MemberNames.Any() ? $"NodeAgent:{string.Join(',', p.MemberNames)}: " : "") + p.ErrorMessage)));
    return 2;
}

using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss ";
}).SetMinimumLevel(LogLevel.Information));
var kubeconfig = configuration["Kubeconfig"];
KubernetesClientConfiguration clientConfiguration;
try
{
    clientConfiguration = string.IsNullOrEmpty(kubeconfig)
        ? KubernetesClientConfiguration.BuildDefaultConfig()
        : KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
}
catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or FileNotFoundException)
{
    Console.Error.WriteLine($"gru-node-agent: no cluster to join: {e.Message}. Pass --kubeconfig (e.g. the one `make cluster` writes) or set KUBECONFIG.");
    return 2;
}

using var client = new Kubernetes(clientConfiguration);
using var cancel = new CancellationTokenSource();
// Ctrl-C and SIGTERM stop the pods' processes and report the node NotReady before exiting (the runtime's default would
// exit at once and orphan them).
void Stop(System.Runtime.InteropServices.PosixSignalContext context)
{
    context.Cancel = true;
    cancel.Cancel();
}

using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Stop);
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Stop);
try
{
    await using var agent = await NodeAgent.StartAsync(client, options, loggerFactory, cancel.Token);
    Console.WriteLine($"node {options.NodeName}: pod logs under {Path.Combine(agent.StateDirectory, "pods")}; Prometheus http_sd_configs url: {agent.DiscoveryUrl}");
    await Task.Delay(Timeout.Infinite, cancel.Token).ContinueWith(_ => { }, TaskScheduler.Default);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
}
catch (FileNotFoundException e)
{
    Console.Error.WriteLine("gru-node-agent: " + e.Message);
    return 2;
}

return 0;

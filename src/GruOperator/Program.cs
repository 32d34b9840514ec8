using ControllerRuntime.Leadership;
using GruOperator.Hosting;
using GruOperator.Manifests;
using k8s.Exceptions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

if (args.Length > 0 && args[0] == "manifests")
{
    return ManifestsCommand.Run(args[1..], Console.Out, Console.Error);
}

var app = OperatorHost.Build(args);
var leadership = app.Services.GetRequiredService<LeadershipState>();
try
{
    await app.RunAsync();
}
catch (OptionsValidationException ex)
{
    Console.Error.WriteLine($"error: invalid configuration: {string.Join("; ", ex.Failures)}");
    return 2;
}
catch (KubeConfigException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}. Pass --kubeconfig PATH (and --context NAME), set KUBECONFIG, or run in a pod.");
    return 2;
}
// Leadership lost: exit non-zero so the pod restarts as a fresh candidate (controller-runtime does the same).
return leadership.Lost ? 1 : 0;

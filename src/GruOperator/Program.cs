using ControllerRuntime.Leadership;
using GruOperator.Hosting;
using GruOperator.Manifests;
using Microsoft.Extensions.DependencyInjection;

if (args.Length > 0 && args[0] == "manifests")
{
    return ManifestsCommand.Run(args[1..], Console.Out, Console.Error);
}

var app = OperatorHost.Build(args);
var leadership = app.Services.GetRequiredService<LeadershipState>();
await app.RunAsync();
// Leadership lost: exit non-zero so the pod restarts as a fresh candidate (controller-runtime does the same).
return leadership.Lost ? 1 : 0;

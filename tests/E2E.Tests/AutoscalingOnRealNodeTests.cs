using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using E2E.Tests.Lane;
using k8s;
using Xunit.Abstractions;

namespace E2E.Tests;

/// <summary>
/// Load-driven replicas on the real node: the operator reads the in-flight requests of the model's pods from the lane's
/// Prometheus (scraped every second, averaged over a 20 s load window) and scales the model's Deployment. The load is
/// closed-loop: each client sends its next request as soon as the last one is answered, so the requests in flight are
/// the number of clients whatever the node's speed (a loaded 2-core machine makes them slower, not fewer), and doubling
/// the clients doubles the load.
/// </summary>
[Collection(RealNodeCollection.Name)]
public sealed class AutoscalingOnRealNodeTests(RealNodeLane lane, ITestOutputHelper output)
{
    private const string Model = "autoscaled";
    private const int BaseClients = 2;

    // A client asks again as soon as it is answered (the pacing interval, a millisecond, never holds it back).
    // Long sequences (2048 steps), so a request spends its time in the server, not in the client on this shared 2-core machine
    // (with 256 steps, doubling the clients left the in-flight gauge where it was: the clients were the bottleneck).
    private static ClusterIpLoad Clients(string clusterIp) =>
        ClusterIpLoad.Start(clusterIp, Model, steps: 2048, features: 8, workers: BaseClients, requestsPerSecond: BaseClients * 1000);

    [Fact]
    public async Task Load_that_doubles_scales_the_model_up_within_the_window_and_back_down_when_it_stops()
    {
        const string ns = "e2e-autoscale";
        await using var cleanup = await lane.NamespaceAsync(ns);
        try
        {
            await RunAsync(ns);
        }
        finally
        {
            // The GruModel goes first: its finalizer's Event must not land in a terminating namespace.
            await lane.KubectlAsync(["delete", "grumodel", Model, "-n", ns, "--ignore-not-found", "--wait=true", "--timeout=120s"], timeout: TimeSpan.FromMinutes(3));
        }
    }

    private async Task RunAsync(string ns)
    {
        // A target no load here reaches, so the baseline can be measured first at one replica.
        await lane.KubectlAsync(["apply", "-f", "-"], Manifest(ns, "100").ToJsonString());
        await RealNodeLane.UntilAsync(() => lane.GruModelAsync(ns, Model), m => Phase(m) == "Healthy" && ReadyReplicas(m) == 1,
            TimeSpan.FromMinutes(4), "the model Healthy at 1 replica", Describe);
        var service = await lane.Client.CoreV1.ReadNamespacedServiceAsync(Model, ns);

        var baseLoad = Clients(service.Spec.ClusterIP);
        try
        {
            await LoadPhasesAsync(ns, service.Spec.ClusterIP, baseLoad);
        }
        finally
        {
            await baseLoad.DisposeAsync();
        }

        await ScaleDownAsync(ns);
    }

    private async Task LoadPhasesAsync(string ns, string clusterIp, ClusterIpLoad baseLoad)
    {
        var baseline = await ValueAfterAsync(ns, TimeSpan.FromSeconds(35), "the baseline's in-flight requests");
        // Baseline at 1/1.3 of the target: one replica is enough; twice the load wants two.
        var target = (baseline * 1.3).ToString("0.##", CultureInfo.InvariantCulture);
        output.WriteLine($"baseline: {baseline} in-flight requests per pod with {BaseClients} clients; target set to {target}");
        await lane.KubectlAsync(["patch", "grumodel", Model, "-n", ns, "--type=merge", "-p",
            $"{{\"spec\":{{\"serving\":{{\"autoscaling\":{{\"target\":{{\"metric\":\"inFlightRequests\",\"averageValue\":\"{target}\"}}}}}}}}}}"]);
        // Held at the baseline for a load window and a sync period: still one replica.
        await Task.Delay(TimeSpan.FromSeconds(35));
        var held = await lane.GruModelAsync(ns, Model);
        Assert.True(Desired(held) == 1, $"the baseline alone scaled the model: {Describe(held)}");

        var doubled = Stopwatch.StartNew();
        await using var extraLoad = Clients(clusterIp);
        var up = await RealNodeLane.UntilAsync(() => lane.GruModelAsync(ns, Model), m => Desired(m) >= 2,
            TimeSpan.FromMinutes(2), "a scale-up after the load doubled", Describe);
        var scaledUpAfter = doubled.Elapsed;
        var ready = await RealNodeLane.UntilAsync(() => lane.GruModelAsync(ns, Model), m => ReadyReplicas(m) >= 2,
            TimeSpan.FromMinutes(3), "the new replica ready", Describe);
        output.WriteLine($"load doubled → desired {Desired(up)} after {scaledUpAfter.TotalSeconds:0} s, {ReadyReplicas(ready)} ready after {doubled.Elapsed.TotalSeconds:0} s: {Autoscaling(up)?["message"]}");
        // The decision follows the load window (20 s), the scale-up window (10 s) and a sync period (15 s).
        Assert.True(scaledUpAfter < TimeSpan.FromSeconds(75), $"scale-up took {scaledUpAfter.TotalSeconds:0} s");
        Assert.Contains(Autoscaling(up)!["reason"]!.GetValue<string>(), new[] { "ScaledUp", "RateLimited", "AtMaxReplicas" });
        Assert.True(baseLoad.Errors + extraLoad.Errors == 0, $"{baseLoad.Errors + extraLoad.Errors} failed requests while scaling up");
    }

    private async Task ScaleDownAsync(string ns)
    {
        var stopped = Stopwatch.StartNew();
        var down = await RealNodeLane.UntilAsync(() => lane.GruModelAsync(ns, Model), m => Desired(m) == 1,
            TimeSpan.FromMinutes(3), "the scale-down after the load stopped", Describe);
        var scaledDownAfter = stopped.Elapsed;
        await RealNodeLane.UntilAsync(async () => (await lane.Client.AppsV1.ReadNamespacedDeploymentAsync($"{Model}-stable", ns)).Status,
            s => s.Replicas == 1, TimeSpan.FromMinutes(2), "the Deployment down to 1 pod");
        output.WriteLine($"load stopped → desired 1 after {scaledDownAfter.TotalSeconds:0} s, one pod left after {stopped.Elapsed.TotalSeconds:0} s: {Autoscaling(down)?["message"]}");
        // Not before the 30 s scale-down window has seen only low recommendations.
        Assert.True(scaledDownAfter > TimeSpan.FromSeconds(30), $"scaled down after {scaledDownAfter.TotalSeconds:0} s, inside the 30 s window");

        var events = JsonNode.Parse(await lane.KubectlAsync(["get", "events", "-n", ns, "--field-selector", $"involvedObject.kind=GruModel,involvedObject.name={Model}", "-o", "json"]))!;
        var scaleEvents = events["items"]!.AsArray().Where(e => e!["message"]!.GetValue<string>().StartsWith("Replicas ", StringComparison.Ordinal)).ToList();
        foreach (var e in scaleEvents) output.WriteLine($"event {e!["reason"]}: {e["message"]}");
        Assert.Contains(scaleEvents, e => e!["reason"]!.GetValue<string>() == "ScaledDown");
        var status = await lane.KubectlGruAsync(["status", Model, "-n", ns]);
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains("autoscaling: 1 replicas (min 1, max 3)", status.Stdout, StringComparison.Ordinal);
    }

    /// <summary>status.autoscaling's value after <paramref name="after"/> (longer than the load window and a sync period, so it was read under this load).</summary>
    private async Task<double> ValueAfterAsync(string ns, TimeSpan after, string what)
    {
        await Task.Delay(after);
        var model = await RealNodeLane.UntilAsync(() => lane.GruModelAsync(ns, Model),
            m => Autoscaling(m)?["currentValue"] is not null, TimeSpan.FromSeconds(60), what, Describe);
        return double.Parse(Autoscaling(model)!["currentValue"]!.GetValue<string>(), CultureInfo.InvariantCulture);
    }

    private static JsonObject Manifest(string ns, string target) => JsonNode.Parse($$$"""
        {"apiVersion": "serving.gru.dev/v1alpha1", "kind": "GruModel", "metadata": {"name": "{{{Model}}}", "namespace": "{{{ns}}}"},
         "spec": {
           "model": {"name": "{{{Model}}}", "source": "file:///app/models/sample-gru.onnx", "sha256": "f13c3245ec003e0ed76a2214e6ff89d0e545b45dd58ec22424ee5e1e2febbe52"},
           "serving": {
             "replicas": 1, "executionProvider": "CPU",
             "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
             "autoscaling": {
               "minReplicas": 1, "maxReplicas": 3,
               "target": {"metric": "inFlightRequests", "averageValue": "{{{target}}}"},
               "behavior": {"scaleUp": {"stabilizationWindow": "10s"}, "scaleDown": {"stabilizationWindow": "30s"} } }
         }
        } }
        """)!.AsObject();

    private static JsonNode? Autoscaling(JsonObject model) => model["status"]?["autoscaling"];

    private static int Desired(JsonObject model) => Autoscaling(model)?["desiredReplicas"]?.GetValue<int>() ?? 0;

    private static int ReadyReplicas(JsonObject model) => model["status"]?["stable"]?["readyReplicas"]?.GetValue<int>() ?? 0;

    private static string? Phase(JsonObject model) => model["status"]?["phase"]?.GetValue<string>();

    private static string Describe(JsonObject model) => model["status"]?.ToJsonString() ?? "(no status)";
}

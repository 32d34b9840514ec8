using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using E2E.Tests.Lane;
using k8s;
using TestSupport;
using Xunit.Abstractions;

namespace E2E.Tests;

/// <summary>
/// Every sample in config/samples reaches Ready on the real node with pods that really run. What a sample names outside
/// this machine is pointed at the lane: https:// and oci:// sources at the bundled sample model pushed to the lane's
/// registry (a stateful one for sessions.mode Stateful; file:// sources are served from the gru-server image as written), replicas at one (the node has 2 cores),
/// spec.prometheus at the operator's default, and a registry Secret's host at the lane's registry. The node is shaped
/// like a GPU node (simulated nvidia.com/gpu, the GPU product label, RuntimeClass nvidia).
/// </summary>
[Collection(RealNodeCollection.Name)]
public sealed partial class SamplesOnRealNodeTests(RealNodeLane lane, ITestOutputHelper output)
{
    public static TheoryData<string> Samples() =>
        new(Directory.GetFiles(Path.Combine(Repository.Root, "config", "samples"), "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Samples))]
    public async Task The_sample_reaches_Ready_with_running_verified_pods(string sample)
    {
        var objects = Objects(await lane.KubectlAsync(["create", "--dry-run=client", "-o", "json", "-f", Path.Combine(Repository.Root, "config", "samples", sample)]));
        var models = objects.Where(o => o["kind"]!.GetValue<string>() == "GruModel").ToList();
        Assert.NotEmpty(models);
        foreach (var model in models) await AdaptAsync(model);
        foreach (var secret in objects.Where(o => o["kind"]!.GetValue<string>() == "Secret" && o["stringData"]?[".dockerconfigjson"] is not null))
        {
            secret["stringData"]![".dockerconfigjson"] = RegistryHost().Replace(secret["stringData"]![".dockerconfigjson"]!.GetValue<string>(), lane.Registry);
        }

        var clock = Stopwatch.StartNew();
        await lane.KubectlAsync(["apply", "-f", "-"], new JsonObject { ["apiVersion"] = "v1", ["kind"] = "List", ["items"] = new JsonArray([.. objects.Select(o => o.DeepClone())]) }.ToJsonString());
        try
        {
            foreach (var model in models)
            {
                var ns = model["metadata"]!["namespace"]?.GetValue<string>() ?? "default";
                var name = model["metadata"]!["name"]!.GetValue<string>();
                await RealNodeLane.UntilAsync(() => lane.GruModelAsync(ns, name),
                    m => Status(m, "Ready") == "True" && Status(m, "ModelVerified") == "True",
                    TimeSpan.FromMinutes(4), $"sample {sample}: {ns}/{name} Ready and verified", m => m["status"]?.ToJsonString() ?? "(no status)");
                var pods = (await lane.Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: $"serving.gru.dev/model={name}")).Items;
                Assert.NotEmpty(pods);
                Assert.All(pods, p => Assert.True(OperatorInClusterTests.IsReady(p), $"{p.Metadata.Name} not ready"));
                Assert.All(pods, p => Assert.All(p.Status.ContainerStatuses, s => Assert.Equal(0, s.RestartCount)));
                output.WriteLine($"{sample}: {ns}/{name} Ready and verified on {pods.Count} pod(s) {clock.Elapsed.TotalSeconds:0} s after apply");
            }
        }
        finally
        {
            // The node has 2 cores: each sample's pods go before the next sample's come.
            foreach (var model in models)
            {
                await lane.KubectlAsync(["delete", "grumodel", model["metadata"]!["name"]!.GetValue<string>(), "-n",
                    model["metadata"]!["namespace"]?.GetValue<string>() ?? "default", "--wait=true", "--timeout=120s"], timeout: TimeSpan.FromMinutes(3));
            }
        }
    }

    private async Task AdaptAsync(JsonObject model)
    {
        var spec = model["spec"]!.AsObject();
        var source = spec["model"]!["source"]!.GetValue<string>();
        if (!source.StartsWith("file://", StringComparison.Ordinal))
        {
            var name = model["metadata"]!["name"]!.GetValue<string>();
            var stateful = spec["serving"]?["sessions"]?["mode"]?.GetValue<string>() == "Stateful";
            spec["model"]!["source"] = await PushSampleModelAsync(name, stateful);
            spec["model"]!.AsObject().Remove("sha256");
        }

        if (spec["serving"]?["replicas"] is not null) spec["serving"]!["replicas"] = 1;
        spec.Remove("prometheus");
    }

    // The bundled sample model; for sessions.mode Stateful one whose GRUs take their initial state as inputs and return
    // their last state (gru-model --state-inputs), as GruServer requires to carry each sequence between requests.
    private async Task<string> PushSampleModelAsync(string name, bool stateful)
    {
        var file = Repository.SampleModelPath;
        if (stateful)
        {
            file = Path.Combine(lane.WorkDirectory, $"{name}-stateful.onnx");
            var written = await GruModelCommand.RunAsync(["--output", file, "--input-size", "8", "--hidden-size", "32", "--layers", "2", "--state-inputs"]);
            Assert.True(written.ExitCode == 0, $"gru-model --state-inputs: {written.Stdout}\n{written.Stderr}");
        }

        var reference = $"oci://{lane.Registry}/samples/{name}:1";
        var (exitCode, stdout, stderr) = await GruModelCommand.RunAsync(["push", file, reference, "--plain-http", "--name", name]);
        Assert.True(exitCode == 0, $"gru-model push {reference}: {stdout}\n{stderr}");
        return reference;
    }

    // kubectl prints one JSON object per document of a multi-document file, one after another.
    private static List<JsonObject> Objects(string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json), new JsonReaderOptions { AllowMultipleValues = true });
        var objects = new List<JsonObject>();
        while (reader.Read()) objects.Add(JsonNode.Parse(ref reader)!.AsObject());
        return objects;
    }

    private static string? Status(JsonObject model, string type) =>
        model["status"]?["conditions"]?.AsArray().FirstOrDefault(c => c?["type"]?.GetValue<string>() == type)?["status"]?.GetValue<string>();

    [GeneratedRegex(@"[a-z0-9.\-]+\.svc(:\d+)?")]
    private static partial Regex RegistryHost();
}

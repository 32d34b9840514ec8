using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using TestSupport;

namespace GruNodeAgent.Tests.Lanes;

/// <summary>
/// The operator as a real process (its build output, as `make run` starts it) serving a GruModel through a cluster whose
/// only node is the agent: GruModel → Deployment → ReplicaSet → Pod → bound and run by the agent → GruModel Ready.
/// </summary>
internal static class OperatorOnAgentScenario
{
    public static async Task<(TimeSpan ModelReady, V1Pod Pod)> RunAsync(IKubernetes client, Func<string, string> kubeconfig, string ns, Func<string> agentLog)
    {
        var crd = await KubernetesYaml.LoadFromFileAsync<V1CustomResourceDefinition>(Path.Combine(Repository.Root, "config", "crds", "serving.gru.dev_grumodels.yaml"));
        try
        {
            await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
        }

        await Until(async () =>
        {
            var current = await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(crd.Metadata.Name);
            return current.Status?.Conditions?.Any(c => c is { Type: "Established", Status: "True" }) == true;
        }, TimeSpan.FromSeconds(60), "the GruModel CRD to be established", agentLog);

        // A file:// source is a path in the server image's filesystem, which locally is the host's. Not under /tmp: the
        // operator's pod mounts an emptyDir there, which hides the image's /tmp (the agent maps it to the pod's directory).
        // The repository itself may be under /tmp (CI clones there), so the model is copied to /var/tmp first.
        var modelDirectory = Path.Combine("/var/tmp", "gru-node-agent-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(modelDirectory);
        var modelPath = Path.Combine(modelDirectory, "sample-gru.onnx");
        File.Copy(Repository.SampleModelPath, modelPath);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(modelPath)));
        await using var operatorProcess = OperatorProcess.Start(new OperatorProcessOptions
        {
            Kubeconfig = kubeconfig(Path.Combine(Path.GetTempPath(), $"agent-e2e-{ns}.kubeconfig")),
            Namespaces = ns,
            HealthPort = 0,
        });
        try
        {
            var clock = Stopwatch.StartNew();
            var gruModel = new JsonObject
            {
                ["apiVersion"] = "serving.gru.dev/v1alpha1",
                ["kind"] = "GruModel",
                ["metadata"] = new JsonObject { ["name"] = "e2e", ["namespace"] = ns },
                ["spec"] = new JsonObject
                {
                    ["model"] = new JsonObject { ["name"] = "gru", ["source"] = "file://" + modelPath, ["sha256"] = sha256 },
                    ["serving"] = new JsonObject
                    {
                        ["executionProvider"] = "CPU",
                        ["resources"] = new JsonObject { ["requests"] = new JsonObject { ["cpu"] = "250m", ["memory"] = "256Mi" } },
                    },
                },
            };
            await client.CustomObjects.CreateNamespacedCustomObjectAsync(gruModel, "serving.gru.dev", "v1alpha1", ns, "grumodels");
            await Until(async () =>
            {
                var current = JsonNode.Parse(KubernetesJson.Serialize(await client.CustomObjects.GetNamespacedCustomObjectAsync("serving.gru.dev", "v1alpha1", ns, "grumodels", "e2e")));
                return (current?["status"]?["conditions"] as JsonArray)?.Any(c => c?["type"]?.GetValue<string>() == "Ready" && c["status"]?.GetValue<string>() == "True") == true;
            }, TimeSpan.FromSeconds(180), "the GruModel to be Ready", () => agentLog() + "\noperator:\n" + operatorProcess.Output);
            var elapsed = clock.Elapsed;
            var pod = (await client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: "serving.gru.dev/model=e2e")).Items.Single();
            return (elapsed, pod);
        }
        finally
        {
            // Its pods keep running until the lane's agent stops (each lane has its own addresses, so the operator's fixed
            // ports 8080 and 9464 never collide).
            await operatorProcess.StopAsync();
            try
            {
                Directory.Delete(modelDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A pod still holding the file: /var/tmp is cleaned by the system.
            }
        }
    }

    private static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string> diagnostics)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            try
            {
                if (await condition()) return;
            }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"waited {timeout.TotalSeconds}s for {what}:\n{diagnostics()}");
    }
}

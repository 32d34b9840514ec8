using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using TestSupport;
using Xunit.Abstractions;

namespace GruNodeAgent.Tests.Lanes;

// One lane at a time: each starts GruServer processes, and a 2-core machine runs them slowly enough already.
[CollectionDefinition("node agent lanes", DisableParallelization = true)]
public sealed class NodeAgentLanes;

/// <summary>The node agent's behaviour, run once per API server lane (see the subclasses at the end).</summary>
public abstract class NodeAgentScenarios<TLane>(TLane lane, ITestOutputHelper output) : IClassFixture<TLane> where TLane : AgentLane
{
    private static readonly TimeSpan PodTimeout = TimeSpan.FromSeconds(120);

    private IKubernetes Client => lane.Client;

    [Fact]
    public async Task Registers_a_simulated_node_with_capacity_and_a_lease()
    {
        var node = await Client.CoreV1.ReadNodeAsync("agent-test-node");
        Assert.Equal("true", node.Metadata.Labels["node.gru.dev/simulated"]);
        Assert.Equal("1", node.Status.Allocatable["nvidia.com/gpu"].ToString());
        Assert.Equal(4m, node.Status.Capacity["cpu"].ToDecimal());
        Assert.Equal(8m * 1024 * 1024 * 1024, node.Status.Capacity["memory"].ToDecimal());
        Assert.Contains(node.Status.Conditions, c => c is { Type: "Ready", Status: "True" });
        var lease = await Client.CoordinationV1.ReadNamespacedLeaseAsync("agent-test-node", "kube-node-lease");
        var first = lease.Spec.RenewTime;
        Assert.Equal("agent-test-node", lease.Spec.HolderIdentity);
        // The heartbeat (every 2s here) renews it.
        await WaitUntilAsync(async () => (await Client.CoordinationV1.ReadNamespacedLeaseAsync("agent-test-node", "kube-node-lease")).Spec.RenewTime > first,
            TimeSpan.FromSeconds(20), "the node Lease to be renewed");
    }

    [Fact]
    public async Task Runs_a_GruServer_pod_to_Ready_with_init_container_probes_and_discovery()
    {
        var ns = await NamespaceAsync();
        var model = await GruTestModels.WriteAsync();
        var (http, metrics) = (FreePort.Next(), FreePort.Next());
        var pod = ServingPod("gru-1", model.Path, http, metrics);
        var clock = Stopwatch.StartNew();
        await Client.CoreV1.CreateNamespacedPodAsync(pod, ns);
        var ready = await WaitForPodAsync(ns, "gru-1", p => p?.Status?.Conditions?.Any(c => c is { Type: "Ready", Status: "True" }) == true, "Ready");
        var startToReady = clock.Elapsed;

        Assert.Equal("agent-test-node", ready.Spec.NodeName);
        Assert.Equal("Running", ready.Status.Phase);
        Assert.StartsWith("127.0.0.", ready.Status.PodIP, StringComparison.Ordinal);
        Assert.NotEqual("127.0.0.1", ready.Status.PodIP);
        Assert.Contains(ready.Status.Conditions, c => c is { Type: "PodScheduled", Status: "True" });
        Assert.Contains(ready.Status.Conditions, c => c is { Type: "Initialized", Status: "True" });
        var init = Assert.Single(ready.Status.InitContainerStatuses);
        Assert.Equal("Completed", init.State.Terminated?.Reason);
        var server = Assert.Single(ready.Status.ContainerStatuses);
        Assert.True(server.Ready);
        Assert.NotNull(server.State.Running);

        // It serves on its own address and declared ports, with the model the init container put in its emptyDir.
        using var client = new HttpClient();
        var live = await client.GetAsync(new Uri($"http://{ready.Status.PodIP}:{http}/v2/health/ready"));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        var infer = await client.PostAsync(new Uri($"http://{ready.Status.PodIP}:{http}/v2/models/gru/infer"),
            new StringContent(GruTestModels.InferRequestJson(model.Spec), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, infer.StatusCode);

        // Logs: a file per container run, its directory in an annotation.
        var logs = ready.Metadata.Annotations["node.gru.dev/logs"];
        Assert.True(File.Exists(Path.Combine(logs, "gru-server", "0.log")), logs);

        // Prometheus http_sd lists its metrics port with namespace, pod and the serving labels.
        var sd = JsonNode.Parse(await client.GetStringAsync(lane.Agent.DiscoveryUrl))!.AsArray();
        var group = sd.Single(g => g!["labels"]!["pod"]!.GetValue<string>() == "gru-1" && g["labels"]!["namespace"]!.GetValue<string>() == ns)!;
        Assert.Equal($"{ready.Status.PodIP}:{metrics}", group["targets"]![0]!.GetValue<string>());
        Assert.Equal("m1", group["labels"]!["serving_gru_dev_model"]!.GetValue<string>());
        Assert.Equal("stable", group["labels"]!["serving_gru_dev_track"]!.GetValue<string>());
        var scrape = await client.GetStringAsync(new Uri($"http://{group["targets"]![0]}{group["labels"]!["__metrics_path__"]}"));
        Assert.Contains("gru_", scrape, StringComparison.Ordinal);

        // Prometheus (http_sd_configs on the agent) scrapes it with the namespace and pod labels the operator's queries select on.
        await using (var prometheus = await PrometheusProcess.StartAsync([], [lane.Agent.DiscoveryUrl], CancellationToken.None))
        {
            var query = Uri.EscapeDataString($"up{{namespace=\"{ns}\",pod=\"gru-1\",serving_gru_dev_track=\"stable\"}} == 1");
            await WaitUntilAsync(async () =>
            {
                var answer = JsonNode.Parse(await client.GetStringAsync(new Uri(prometheus.Address, $"api/v1/query?query={query}")));
                return answer?["data"]?["result"]?.AsArray().Count == 1;
            }, TimeSpan.FromSeconds(60), "Prometheus to scrape the pod found through http_sd");
        }

        var rss = lane.Agent.PodMemory()[$"{ns}/gru-1"];
        Assert.True(rss > 0);
        output.WriteLine($"{typeof(TLane).Name}: pod start-to-Ready {startToReady.TotalSeconds:0.0}s (create call to Ready=True, init container and GruServer start included); pod RSS {rss / 1048576.0:0} MiB");
    }

    [Fact]
    public async Task Downward_api_env_configmap_volume_and_working_dir_reach_the_process()
    {
        var ns = await NamespaceAsync();
        await Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = "settings" },
            Data = new Dictionary<string, string> { ["greeting"] = "hello-from-configmap", ["mode"] = "fast" },
        }, ns);
        var pod = ShellPod("env-1", "echo \"name=$POD_NAME ns=$POD_NAMESPACE ip=$POD_IP label=$TRACK mode=$MODE file=$(cat \"$GREETING_FILE\") pwd=$(pwd)\"; sleep 600");
        var c = pod.Spec.Containers[0];
        pod.Metadata.Labels = new Dictionary<string, string> { ["serving.gru.dev/track"] = "canary" };
        c.WorkingDir = "/work";
        c.Env =
        [
            new V1EnvVar { Name = "POD_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
            new V1EnvVar { Name = "POD_NAMESPACE", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } } },
            new V1EnvVar { Name = "POD_IP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } } },
            new V1EnvVar { Name = "TRACK", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.labels['serving.gru.dev/track']" } } },
            // A whole value under a mountPath is mapped to the volume's host directory (a path inside a script is not).
            new V1EnvVar { Name = "GREETING_FILE", Value = "/etc/settings/greeting" },
            new V1EnvVar { Name = "MODE", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "settings", Key = "mode" } } },
        ];
        c.VolumeMounts = [new V1VolumeMount { Name = "settings", MountPath = "/etc/settings" }, new V1VolumeMount { Name = "work", MountPath = "/work" }];
        pod.Spec.Volumes =
        [
            new V1Volume { Name = "settings", ConfigMap = new V1ConfigMapVolumeSource { Name = "settings" } },
            new V1Volume { Name = "work", EmptyDir = new V1EmptyDirVolumeSource() },
        ];
        await Client.CoreV1.CreateNamespacedPodAsync(pod, ns);
        var running = await WaitForPodAsync(ns, "env-1", p => p?.Status?.ContainerStatuses?.FirstOrDefault()?.Ready == true, "Ready");
        var log = Path.Combine(running.Metadata.Annotations["node.gru.dev/logs"], "main", "0.log");
        var line = await WaitForFileLineAsync(log, "name=");
        var expected = $"name=env-1 ns={ns} ip={running.Status.PodIP} label=canary mode=fast file=hello-from-configmap pwd=";
        Assert.True(line.StartsWith(expected, StringComparison.Ordinal), $"expected {expected}..., got {line}");
        Assert.EndsWith(Path.Combine("volumes", "work"), line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gpu_requests_beyond_capacity_stay_unschedulable_with_the_schedulers_message()
    {
        var ns = await NamespaceAsync();
        var pod = ShellPod("greedy", "sleep 600");
        pod.Spec.Containers[0].Resources = new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["nvidia.com/gpu"] = new("2") } };
        pod.Spec.Tolerations = [new V1Toleration { Key = "nvidia.com/gpu", OperatorProperty = "Exists", Effect = "NoSchedule" }];
        await Client.CoreV1.CreateNamespacedPodAsync(pod, ns);
        var pending = await WaitForPodAsync(ns, "greedy",
            p => p?.Status?.Conditions?.Any(c => c is { Type: "PodScheduled", Status: "False", Reason: "Unschedulable" }) == true, "Unschedulable");
        Assert.Equal("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.", pending.Status.Conditions.Single(c => c.Type == "PodScheduled").Message);
        Assert.Equal("Pending", pending.Status.Phase);
        Assert.True(string.IsNullOrEmpty(pending.Spec.NodeName));
    }

    [Fact]
    public async Task A_failing_liveness_probe_restarts_the_container()
    {
        var ns = await NamespaceAsync();
        var pod = ShellPod("unhealthy", "sleep 600");
        pod.Spec.Containers[0].Command = ["sleep", "600"];
        pod.Spec.Containers[0].Args = null;
        // Nothing listens on this port at the pod's address: every httpGet is refused.
        pod.Spec.Containers[0].LivenessProbe = new V1Probe
        {
            HttpGet = new V1HTTPGetAction { Path = "/healthz", Port = FreePort.Next() },
            PeriodSeconds = 1,
            FailureThreshold = 2,
        };
        pod.Spec.TerminationGracePeriodSeconds = 5;
        await Client.CoreV1.CreateNamespacedPodAsync(pod, ns);
        var restarted = await WaitForPodAsync(ns, "unhealthy",
            p => p?.Status?.ContainerStatuses?.FirstOrDefault() is { RestartCount: >= 1, LastState.Terminated: not null }, "restarted");
        var status = restarted.Status.ContainerStatuses.Single();
        Assert.Equal(143, status.LastState.Terminated.ExitCode); // SIGTERM ended sleep
        Assert.Equal("Error", status.LastState.Terminated.Reason);
        Assert.StartsWith("Liveness probe failed: Get \"http://", status.LastState.Terminated.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_crashing_container_goes_into_CrashLoopBackOff_with_its_exit_code_and_last_words()
    {
        var ns = await NamespaceAsync();
        var pod = ShellPod("crasher", "echo 'cannot open model'; exit 3");
        pod.Spec.Containers[0].TerminationMessagePolicy = "FallbackToLogsOnError";
        await Client.CoreV1.CreateNamespacedPodAsync(pod, ns);
        var crashing = await WaitForPodAsync(ns, "crasher",
            p => p?.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Waiting?.Reason == "CrashLoopBackOff", "CrashLoopBackOff");
        var status = crashing.Status.ContainerStatuses.Single();
        Assert.StartsWith("back-off ", status.State.Waiting.Message, StringComparison.Ordinal);
        Assert.Equal(3, status.LastState.Terminated.ExitCode);
        Assert.Equal("cannot open model", status.LastState.Terminated.Message);
        Assert.True(status.RestartCount >= 1);
        Assert.Equal("Running", crashing.Status.Phase);
    }

    [Fact]
    public async Task Delete_sends_SIGTERM_waits_the_grace_period_then_kills_and_removes_the_pod()
    {
        var ns = await NamespaceAsync();
        // Ignores SIGTERM (and says so), so only SIGKILL after the grace period ends it.
        var pod = ShellPod("stubborn", "trap 'echo TERM received' TERM; echo started; while true; do sleep 0.2; done");
        pod.Spec.TerminationGracePeriodSeconds = 4;
        await Client.CoreV1.CreateNamespacedPodAsync(pod, ns);
        var running = await WaitForPodAsync(ns, "stubborn", p => p?.Status?.ContainerStatuses?.FirstOrDefault()?.Ready == true, "Ready");
        var log = Path.Combine(running.Metadata.Annotations["node.gru.dev/logs"], "main", "0.log");
        await WaitForFileLineAsync(log, "started");

        var clock = Stopwatch.StartNew();
        await Client.CoreV1.DeleteNamespacedPodAsync("stubborn", ns);
        var terminating = await Client.CoreV1.ReadNamespacedPodAsync("stubborn", ns);
        Assert.NotNull(terminating.Metadata.DeletionTimestamp);
        Assert.Equal(4, terminating.Metadata.DeletionGracePeriodSeconds);
        await WaitForFileLineAsync(log, "TERM received");
        await WaitForPodAsync(ns, "stubborn", p => p is null, "removed");
        var elapsed = clock.Elapsed;
        Assert.True(elapsed >= TimeSpan.FromSeconds(3.5), $"the pod went after {elapsed.TotalSeconds:0.0}s, before its 4s grace period ended");
        output.WriteLine($"{typeof(TLane).Name}: SIGTERM-ignoring pod removed {elapsed.TotalSeconds:0.0}s after delete (grace 4s)");
    }

    [Fact]
    public async Task An_unmappable_image_fails_the_pod_saying_so()
    {
        var ns = await NamespaceAsync();
        var pod = ShellPod("nginx", "");
        pod.Spec.Containers[0].Image = "docker.io/library/nginx:1.27";
        pod.Spec.Containers[0].Command = null;
        pod.Spec.Containers[0].Args = null;
        await Client.CoreV1.CreateNamespacedPodAsync(pod, ns);
        var failed = await WaitForPodAsync(ns, "nginx", p => p?.Status?.Phase == "Failed", "Failed");
        Assert.Equal("UnmappableImage", failed.Status.Reason);
        Assert.Contains("image \"docker.io/library/nginx:1.27\" of container \"main\" has no local command", failed.Status.Message, StringComparison.Ordinal);
        Assert.Contains("NodeAgent:Images", failed.Status.Message, StringComparison.Ordinal);
        Assert.Equal("ErrImagePull", failed.Status.ContainerStatuses.Single().State.Waiting.Reason);
        Assert.Contains(failed.Status.Conditions, c => c is { Type: "Ready", Status: "False", Reason: "PodFailed" });
    }

    [Fact]
    public async Task The_operator_serves_a_GruModel_whose_pod_the_agent_schedules_and_runs()
    {
        var ns = await NamespaceAsync();
        var (ready, pod) = await OperatorOnAgentScenario.RunAsync(Client, lane.WriteKubeconfig, ns, () => lane.AgentLog);
        Assert.Equal("agent-test-node", pod.Spec.NodeName);
        Assert.StartsWith("127.0.0.", pod.Status.PodIP, StringComparison.Ordinal);
        Assert.True(pod.Status.ContainerStatuses.Single(c => c.Name == "gru-server").Ready);
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri($"http://{pod.Status.PodIP}:8080/v2/health/ready"))).StatusCode);
        output.WriteLine($"{typeof(TLane).Name}: GruModel created to Ready {ready.TotalSeconds:0.0}s (operator, Deployment, ReplicaSet, agent, GruServer)");
    }

    private static V1Pod ServingPod(string name, string modelFile, int http, int metrics) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            Labels = new Dictionary<string, string> { ["serving.gru.dev/model"] = "m1", ["serving.gru.dev/track"] = "stable", ["serving.gru.dev/revision"] = "1" },
            Annotations = new Dictionary<string, string> { ["prometheus.io/scrape"] = "true", ["prometheus.io/port"] = metrics.ToString(System.Globalization.CultureInfo.InvariantCulture), ["prometheus.io/path"] = "/metrics" },
        },
        // The operator's pod template shape (ServingWorkloadBuilder): fetcher init container into an emptyDir, GruServer on 0.0.0.0.
        Spec = new V1PodSpec
        {
            TerminationGracePeriodSeconds = 10,
            InitContainers =
            [
                new V1Container
                {
                    Name = "model-fetcher",
                    Image = AgentLane.CopyModelImage,
                    Command = ["/bin/sh", "-c", "wget ..."],
                    Env = [new V1EnvVar { Name = "MODEL_SOURCE", Value = modelFile }, new V1EnvVar { Name = "MODEL_PATH", Value = "/models/model.onnx" }],
                    VolumeMounts = [new V1VolumeMount { Name = "model", MountPath = "/models" }],
                },
            ],
            Containers =
            [
                new V1Container
                {
                    Name = "gru-server",
                    Image = AgentLane.ServerImage,
                    Args = ["--model", "/models/model.onnx", "--model-name", "gru", "--host", "0.0.0.0", "--port", $"{http}", "--metrics-port", $"{metrics}",
                        "--revision", "1", "--track", "stable", "--shutdown-delay", "0s"],
                    Env =
                    [
                        new V1EnvVar { Name = "POD_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
                        new V1EnvVar { Name = "POD_NAMESPACE", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } } },
                    ],
                    Ports = [new V1ContainerPort { Name = "http", ContainerPort = http }, new V1ContainerPort { Name = "metrics", ContainerPort = metrics }],
                    Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("100m"), ["memory"] = new("128Mi") } },
                    ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/v2/health/ready", Port = "http" }, PeriodSeconds = 1, FailureThreshold = 3 },
                    LivenessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/v2/health/live", Port = "http" }, PeriodSeconds = 5, FailureThreshold = 3 },
                    StartupProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/v2/health/ready", Port = "http" }, PeriodSeconds = 1, FailureThreshold = 120 },
                    VolumeMounts = [new V1VolumeMount { Name = "model", MountPath = "/models", ReadOnlyProperty = true }, new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }],
                },
            ],
            Volumes = [new V1Volume { Name = "model", EmptyDir = new V1EmptyDirVolumeSource() }, new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() }],
        },
    };

    private static V1Pod ShellPod(string name, string script) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1PodSpec
        {
            TerminationGracePeriodSeconds = 5,
            Containers = [new V1Container { Name = "main", Image = AgentLane.ShellImage, Command = ["/bin/sh", "-c"], Args = [script] }],
        },
    };

    private async Task<string> NamespaceAsync()
    {
        var name = "na-" + Guid.NewGuid().ToString("N")[..8];
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } });
        // The real control plane's ServiceAccount admission refuses pods until the namespace's default ServiceAccount exists.
        await WaitUntilAsync(async () =>
        {
            try
            {
                await Client.CoreV1.ReadNamespacedServiceAccountAsync("default", name);
                return true;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return lane is LocalClusterLane;
            }
        }, TimeSpan.FromSeconds(30), "the default ServiceAccount");
        return name;
    }

    private async Task<V1Pod> WaitForPodAsync(string ns, string name, Func<V1Pod?, bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        V1Pod? pod = null;
        while (deadline.Elapsed < PodTimeout)
        {
            try
            {
                pod = await Client.CoreV1.ReadNamespacedPodAsync(name, ns);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                pod = null;
            }

            if (condition(pod)) return pod!;
            await Task.Delay(100);
        }

        throw new TimeoutException($"pod {ns}/{name} was not {what} within {PodTimeout.TotalSeconds}s; last seen:\n" +
            (pod is null ? "(none)" : KubernetesJson.Serialize(pod.Status)) + "\nagent log:\n" + lane.AgentLog);
    }

    private async Task<string> WaitForFileLineAsync(string path, string contains)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (File.Exists(path))
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream);
                var text = await reader.ReadToEndAsync();
                var line = text.Split('\n').FirstOrDefault(l => l.Contains(contains, StringComparison.Ordinal));
                if (line is not null) return line;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{path} has no line with \"{contains}\" after 30s; agent log:\n{lane.AgentLog}");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (await condition()) return;
            await Task.Delay(100);
        }

        throw new TimeoutException($"waited {timeout.TotalSeconds}s for {what}");
    }
}

[Collection("node agent lanes")]
public sealed class LocalClusterNodeAgentTests(LocalClusterLane lane, ITestOutputHelper output) : NodeAgentScenarios<LocalClusterLane>(lane, output);

[Collection("node agent lanes")]
public sealed class RealApiServerNodeAgentTests(RealApiServerLane lane, ITestOutputHelper output) : NodeAgentScenarios<RealApiServerLane>(lane, output);

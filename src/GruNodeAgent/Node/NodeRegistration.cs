using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using GruNodeAgent.Runtime;
using GruNodeAgent.Scheduling;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace GruNodeAgent.Node;

/// <summary>
/// Registers the Node (capacity, labels marking it simulated, taints, Ready) and keeps it alive as the kubelet does:
/// renews its Lease in kube-node-lease and refreshes the Ready condition's heartbeat.
/// </summary>
internal sealed partial class NodeRegistration
{
    /// <summary>Every node the agent registers carries this label: its pods are local processes on CPU.</summary>
    public const string SimulatedLabel = "node.gru.dev/simulated";

    private const string LeaseNamespace = "kube-node-lease";
    private readonly IKubernetes _client;
    private readonly NodeAgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public NodeRegistration(IKubernetes client, NodeAgentOptions options, TimeProvider time, ILogger logger)
    {
        _client = client;
        _options = options;
        _time = time;
        _logger = logger;
        View = BuildView(options);
    }

    /// <summary>The node as the scheduler sees it.</summary>
    public NodeView View { get; }

    public static NodeView BuildView(NodeAgentOptions options)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["kubernetes.io/hostname"] = options.NodeName,
            ["kubernetes.io/os"] = "linux",
            ["kubernetes.io/arch"] = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "amd64",
            [SimulatedLabel] = "true",
        };
        foreach (var (k, v) in options.Labels) labels[k] = v;
        var allocatable = new Dictionary<string, decimal>(StringComparer.Ordinal)
        {
            ["cpu"] = string.IsNullOrEmpty(options.Cpu) ? Environment.ProcessorCount : new ResourceQuantity(options.Cpu).ToDecimal(),
            ["memory"] = string.IsNullOrEmpty(options.Memory) ? NodeCapacity.MachineMemoryBytes() : new ResourceQuantity(options.Memory).ToDecimal(),
            [PodFit.Pods] = options.MaxPods,
        };
        if (options.GpuCount > 0) allocatable[options.GpuResourceName] = options.GpuCount;
        return new NodeView(options.NodeName, labels, options.Taints.Select(ParseTaint).ToList(), allocatable);
    }

    /// <summary>"key=value:Effect" or "key:Effect", as kubectl taint writes them.</summary>
    public static V1Taint ParseTaint(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0) throw new FormatException($"NodeAgent:Taints entry \"{text}\" must be key=value:Effect or key:Effect");
        var effect = text[(colon + 1)..];
        if (effect is not ("NoSchedule" or "PreferNoSchedule" or "NoExecute"))
        {
            throw new FormatException($"NodeAgent:Taints entry \"{text}\" has effect \"{effect}\"; use NoSchedule, PreferNoSchedule or NoExecute");
        }

        var keyValue = text[..colon].Split('=', 2);
        return new V1Taint { Key = keyValue[0], Value = keyValue.Length == 2 ? keyValue[1] : null, Effect = effect };
    }

    /// <summary>Creates or updates the Node and its Lease, and writes a Ready status.</summary>
    public async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var node = new V1Node
        {
            ApiVersion = "v1",
            Kind = "Node",
            Metadata = new V1ObjectMeta { Name = _options.NodeName, Labels = new Dictionary<string, string>(View.Labels) },
            Spec = new V1NodeSpec { Taints = View.Taints.Count == 0 ? null : View.Taints.ToList() },
        };
        try
        {
            await _client.CoreV1.CreateNodeAsync(node, cancellationToken: cancellationToken).ConfigureAwait(false);
            Log.Registered(_logger, _options.NodeName);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Registered before (an agent restart): take over its labels and taints.
            var patch = new JsonObject
            {
                ["metadata"] = new JsonObject { ["labels"] = JsonNode.Parse(KubernetesJson.Serialize(node.Metadata.Labels)) },
                ["spec"] = new JsonObject { ["taints"] = node.Spec.Taints is null ? null : JsonNode.Parse(KubernetesJson.Serialize(node.Spec.Taints)), ["unschedulable"] = null },
            };
            await _client.CoreV1.PatchNodeAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), _options.NodeName, cancellationToken: cancellationToken).ConfigureAwait(false);
            Log.Reregistered(_logger, _options.NodeName);
        }

        await HeartbeatAsync(ready: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Renews the Lease and the Ready heartbeat every HeartbeatInterval until cancelled, then reports NotReady.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.HeartbeatInterval, _time, cancellationToken).ConfigureAwait(false);
                await HeartbeatAsync(ready: true, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException)
            {
                Log.HeartbeatFailed(_logger, _options.NodeName, e);
            }
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await HeartbeatAsync(ready: false, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or OperationCanceledException)
        {
            // The API server may be gone already; the Lease expiring says the same.
        }
    }

    private async Task HeartbeatAsync(bool ready, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        await RenewLeaseAsync(now, cancellationToken).ConfigureAwait(false);
        var capacity = View.Allocatable.ToDictionary(kv => kv.Key, kv => new ResourceQuantity(kv.Value.ToString(CultureInfo.InvariantCulture)));
        var status = new V1NodeStatus
        {
            Capacity = capacity,
            Allocatable = capacity,
            Conditions =
            [
                new V1NodeCondition
                {
                    Type = "Ready",
                    Status = ready ? "True" : "False",
                    Reason = ready ? "KubeletReady" : "NodeAgentStopped",
                    Message = ready ? "gru-node-agent is posting ready status (simulated node: pods run as local processes on CPU)" : "gru-node-agent stopped",
                    LastHeartbeatTime = now,
                    LastTransitionTime = now,
                },
            ],
            Addresses =
            [
                new V1NodeAddress { Type = "InternalIP", Address = "127.0.0.1" },
                new V1NodeAddress { Type = "Hostname", Address = _options.NodeName },
            ],
            NodeInfo = new V1NodeSystemInfo
            {
                Architecture = View.Labels["kubernetes.io/arch"],
                OperatingSystem = "linux",
                OsImage = RuntimeInformation.OSDescription,
                KernelVersion = Environment.OSVersion.Version.ToString(),
                KubeletVersion = "gru-node-agent",
                KubeProxyVersion = "",
                ContainerRuntimeVersion = "local-process://" + RuntimeInformation.FrameworkDescription,
                MachineID = "",
                SystemUUID = "",
                BootID = "",
            },
        };
        var existing = await _client.CoreV1.ReadNodeStatusAsync(_options.NodeName, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (existing.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready") is { } old && old.Status == status.Conditions[0].Status)
        {
            status.Conditions[0].LastTransitionTime = old.LastTransitionTime;
        }

        var body = new JsonObject { ["status"] = JsonNode.Parse(KubernetesJson.Serialize(status)) }.ToJsonString();
        await _client.CoreV1.PatchNodeStatusAsync(new V1Patch(body, V1Patch.PatchType.MergePatch), _options.NodeName, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task RenewLeaseAsync(DateTime now, CancellationToken cancellationToken)
    {
        var spec = new V1LeaseSpec
        {
            HolderIdentity = _options.NodeName,
            LeaseDurationSeconds = (int)_options.LeaseDuration.TotalSeconds,
            RenewTime = now,
        };
        try
        {
            var lease = await _client.CoordinationV1.ReadNamespacedLeaseAsync(_options.NodeName, LeaseNamespace, cancellationToken: cancellationToken).ConfigureAwait(false);
            lease.Spec = spec;
            await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, _options.NodeName, LeaseNamespace, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            var node = await _client.CoreV1.ReadNodeAsync(_options.NodeName, cancellationToken: cancellationToken).ConfigureAwait(false);
            await _client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
            {
                Metadata = new V1ObjectMeta
                {
                    Name = _options.NodeName,
                    NamespaceProperty = LeaseNamespace,
                    // As the kubelet's: the Lease goes with its Node.
                    OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "Node", Name = node.Metadata.Name, Uid = node.Metadata.Uid }],
                },
                Spec = spec,
            }, LeaseNamespace, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Registered node {Node}")]
        public static partial void Registered(ILogger logger, string node);

        [LoggerMessage(2, LogLevel.Information, "Node {Node} was registered before; updated its labels and taints")]
        public static partial void Reregistered(ILogger logger, string node);

        [LoggerMessage(3, LogLevel.Warning, "Heartbeat of node {Node} failed; retrying at the next interval")]
        public static partial void HeartbeatFailed(ILogger logger, string node, Exception exception);
    }
}

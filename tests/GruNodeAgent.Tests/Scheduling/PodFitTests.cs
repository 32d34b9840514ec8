using GruNodeAgent.Scheduling;
using k8s.Models;

namespace GruNodeAgent.Tests.Scheduling;

public sealed class PodFitTests
{
    private static readonly NodeView Node = new(
        "n1",
        new Dictionary<string, string> { ["kubernetes.io/hostname"] = "n1", ["nvidia.com/gpu.product"] = "A100", ["zone"] = "3" },
        [new V1Taint { Key = "nvidia.com/gpu", Effect = "NoSchedule" }],
        new Dictionary<string, decimal> { ["cpu"] = 4, ["memory"] = 8m * 1024 * 1024 * 1024, ["nvidia.com/gpu"] = 1, ["pods"] = 3 });

    private static readonly V1Toleration GpuToleration = new() { Key = "nvidia.com/gpu", OperatorProperty = "Exists", Effect = "NoSchedule" };

    public static TheoryData<string, V1Pod, string?> Cases => new()
    {
        { "fits with the gpu toleration", Pod(tolerations: [GpuToleration], limits: new() { ["nvidia.com/gpu"] = "1" }), null },
        { "gpu beyond capacity", Pod(tolerations: [GpuToleration], limits: new() { ["nvidia.com/gpu"] = "2" }), "0/1 nodes are available: 1 Insufficient nvidia.com/gpu." },
        { "cpu and gpu beyond capacity, sorted", Pod(tolerations: [GpuToleration], requests: new() { ["cpu"] = "5" }, limits: new() { ["nvidia.com/gpu"] = "2" }),
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient nvidia.com/gpu." },
        { "untolerated taint comes first", Pod(limits: new() { ["nvidia.com/gpu"] = "2" }), "0/1 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: }." },
        { "node selector mismatch", Pod(tolerations: [GpuToleration], nodeSelector: new() { ["zone"] = "9" }), "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector." },
        { "affinity In matches", Pod(tolerations: [GpuToleration], affinity: Requirement("nvidia.com/gpu.product", "In", "A100")), null },
        { "affinity In mismatch", Pod(tolerations: [GpuToleration], affinity: Requirement("nvidia.com/gpu.product", "In", "H100")), "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector." },
        { "affinity Gt", Pod(tolerations: [GpuToleration], affinity: Requirement("zone", "Gt", "2")), null },
        { "affinity DoesNotExist fails on a present label", Pod(tolerations: [GpuToleration], affinity: Requirement("zone", "DoesNotExist")), "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector." },
        { "memory in quantities", Pod(tolerations: [GpuToleration], requests: new() { ["memory"] = "9Gi" }), "0/1 nodes are available: 1 Insufficient memory." },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Filters_as_kube_scheduler(string scenario, V1Pod pod, string? message)
    {
        var result = PodFit.Check(pod, Node, []);
        Assert.True(result.Fits == (message is null), scenario);
        if (message is not null) Assert.Equal(message, result.Message);
    }

    [Fact]
    public void Counts_the_pods_already_on_the_node()
    {
        var running = Pod(tolerations: [GpuToleration], limits: new() { ["nvidia.com/gpu"] = "1" }, requests: new() { ["cpu"] = "3" });
        var next = Pod(tolerations: [GpuToleration], limits: new() { ["nvidia.com/gpu"] = "1" }, requests: new() { ["cpu"] = "1" });
        Assert.Equal("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.", PodFit.Check(next, Node, [running]).Message);
        Assert.Equal("0/1 nodes are available: 1 Too many pods.", PodFit.Check(Pod(tolerations: [GpuToleration]), Node, [Pod(), Pod(), Pod()]).Message);
    }

    [Fact]
    public void Init_containers_count_by_their_largest_request()
    {
        var pod = Pod(requests: new() { ["cpu"] = "1" });
        pod.Spec.InitContainers = [new V1Container { Name = "init", Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("3") } } }];
        Assert.Equal(3m, PodFit.Requests(pod)["cpu"]);
    }

    private static V1NodeAffinity Requirement(string key, string op, params string[] values) => new()
    {
        RequiredDuringSchedulingIgnoredDuringExecution = new V1NodeSelector
        {
            NodeSelectorTerms = [new V1NodeSelectorTerm { MatchExpressions = [new V1NodeSelectorRequirement { Key = key, OperatorProperty = op, Values = values.Length == 0 ? null : values }] }],
        },
    };

    private static V1Pod Pod(
        List<V1Toleration>? tolerations = null,
        Dictionary<string, string>? requests = null,
        Dictionary<string, string>? limits = null,
        Dictionary<string, string>? nodeSelector = null,
        V1NodeAffinity? affinity = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "p", Uid = Guid.NewGuid().ToString() },
        Spec = new V1PodSpec
        {
            Tolerations = tolerations,
            NodeSelector = nodeSelector,
            Affinity = affinity is null ? null : new V1Affinity { NodeAffinity = affinity },
            Containers =
            [
                new V1Container
                {
                    Name = "c",
                    Resources = new V1ResourceRequirements
                    {
                        Requests = requests?.ToDictionary(kv => kv.Key, kv => new ResourceQuantity(kv.Value)),
                        Limits = limits?.ToDictionary(kv => kv.Key, kv => new ResourceQuantity(kv.Value)),
                    },
                },
            ],
        },
    };
}

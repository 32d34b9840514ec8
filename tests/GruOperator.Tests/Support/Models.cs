using GruOperator.Api;
using GruServing.Contract.Serving;
using k8s;
using k8s.Models;

namespace GruOperator.Tests.Support;

/// <summary>GruModels for tests.</summary>
internal static class Models
{
    public const string Sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    public const string OtherSha = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    public static GruModel Cpu(string name = "m", string ns = "default") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Uid = "uid-" + name, Generation = 1 },
        Spec = new GruModelSpec
        {
            Model = new ModelSpec { Name = name, Source = "file:///opt/gru/models/m.onnx", Sha256 = Sha },
            Serving = new ServingSpec { Replicas = 1, ExecutionProvider = ExecutionProvider.CPU },
        },
    };

    public static GruModel Gpu(string name = "g", string ns = "default", string? product = "NVIDIA-A100-SXM4-40GB", string resourceName = "nvidia.com/gpu") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Uid = "uid-" + name, Generation = 1 },
        Spec = new GruModelSpec
        {
            Model = new ModelSpec { Name = name, Source = "https://models.example/g.onnx", Sha256 = Sha },
            Serving = new ServingSpec
            {
                Replicas = 2,
                Gpu = new GpuSpec { Count = 1, ResourceName = resourceName, Product = product },
                RuntimeClassName = "nvidia",
                NodeSelector = new Dictionary<string, string> { ["pool"] = "gpu" },
                Resources = new ResourcesSpec { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("1"), ["memory"] = new("2Gi") } },
            },
        },
    };

    /// <summary>The GruModel in a YAML file; other documents in it (e.g. the Namespace a sample needs) are skipped.</summary>
    public static GruModel Load(string path)
    {
        return KubernetesYaml.Deserialize<GruModel>(TestSupport.SampleManifests.DocumentOfKind(path, GruModel.KindName));
    }

    public static GruModel Clone(GruModel model) => KubernetesJson.Deserialize<GruModel>(KubernetesJson.Serialize(model));
}

using System.ComponentModel;
using System.Text.Json.Serialization;
using GruOperator.Api.Schema;
using k8s;
using k8s.Models;

namespace GruOperator.Api;

/// <summary>A GRU sequence model served by GruServer pods: the serving.gru.dev/v1alpha1 GruModel resource.</summary>
[Description("GruModel serves a GRU sequence model with GruServer on GPU (or CPU) nodes, rolls new model versions out as canaries judged against the SLOs, and reports what it did in status, conditions and Events.")]
[PrinterColumn("Phase", "string", ".status.phase", Description = "Where the model is in its lifecycle.")]
[PrinterColumn("Stable", "string", ".status.stable.shortDigest", Description = "Digest of the model the stable track serves (short).")]
[PrinterColumn("Canary", "string", ".status.canary.traffic", Description = "Canary traffic weight in percent, asked/effective (what ready pods or the route really give).")]
[PrinterColumn("Ready", "string", ".status.ready", Description = "Ready stable replicas / desired.")]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
[PrinterColumn("Message", "string", ".status.message", Priority = 1)]
public sealed class GruModel : IKubernetesObject<V1ObjectMeta>, ISpec<GruModelSpec>, IStatus<GruModelStatus?>
{
    /// <summary>API group of the resource.</summary>
    public const string Group = "serving.gru.dev";

    /// <summary>API version of the resource.</summary>
    public const string Version = "v1alpha1";

    /// <summary>Plural resource name in URLs.</summary>
    public const string Plural = "grumodels";

    /// <summary>The kind.</summary>
    public const string KindName = "GruModel";

    /// <summary>group/version.</summary>
    public const string GroupVersion = Group + "/" + Version;

    /// <inheritdoc />
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = GroupVersion;

    /// <inheritdoc />
    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KindName;

    /// <inheritdoc />
    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    /// <inheritdoc />
    [JsonPropertyName("spec")]
    public GruModelSpec Spec { get; set; } = new();

    /// <inheritdoc />
    [JsonPropertyName("status")]
    public GruModelStatus? Status { get; set; }
}

/// <summary>A page of GruModels, as list calls return them.</summary>
public sealed class GruModelList : IKubernetesObject<V1ListMeta>, IItems<GruModel>
{
    /// <inheritdoc />
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = GruModel.GroupVersion;

    /// <inheritdoc />
    [JsonPropertyName("kind")]
    public string Kind { get; set; } = GruModel.KindName + "List";

    /// <inheritdoc />
    [JsonPropertyName("metadata")]
    public V1ListMeta Metadata { get; set; } = new();

    /// <inheritdoc />
    [JsonPropertyName("items")]
    public IList<GruModel> Items { get; set; } = [];
}

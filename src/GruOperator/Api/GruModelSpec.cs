using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using GruOperator.Api.Schema;
using GruServing.Contract.Durations;
using GruServing.Contract.Models;
using GruServing.Contract.Serving;
using k8s.Models;

namespace GruOperator.Api;

// Patterns shared by several fields. Durations use Go's syntax (as kubectl users know it from every other operator).
internal static class Patterns
{
    public const string Duration = GoDuration.Pattern;
    // The same grammar inside a CEL string literal (backslashes doubled).
    public const string DurationCel = @"^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$";
    public const string Fraction = @"^(0(\.[0-9]+)?|1(\.0+)?)$";
    public const string Sha256 = "^(" + ModelDigest.Grammar + ")?$";
    public const string ModelSource = "^(oci|https|file)://.+$";
    public const string Decimal = @"^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$";
    public const string DnsLabel = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
    public const string QualifiedName = @"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";
}

/// <summary>What the user asks for: the model, how to serve it, what healthy means and how to roll out.</summary>
[Description("Desired state of a GruModel. The operator never writes spec.")]
[CelRule("!has(self.rollout) || !has(self.rollout.canary) || !has(self.rollout.strategy) || self.rollout.strategy == 'Canary'",
    "rollout.canary applies only to strategy Canary: remove rollout.canary or set rollout.strategy: Canary", FieldPath = ".rollout.canary")]
public sealed class GruModelSpec
{
    /// <summary>Which model to serve.</summary>
    [Required]
    [Description("The model to serve: its name on the inference API, where to fetch it and its expected digest.")]
    public ModelSpec Model { get; set; } = new();

    /// <summary>How the model's pods run.</summary>
    [Description("How the serving pods run: image, replicas, GPUs, resources, scheduling, batching and sessions.")]
    [DefaultEmptyObject]
    public ServingSpec Serving { get; set; } = new();

    /// <summary>Service level objectives.</summary>
    [Description("What healthy means: used by canary analysis and the SLOMet condition.")]
    public SloSpec? Slo { get; set; }

    /// <summary>How spec changes roll out.</summary>
    [Description("How a new model version rolls out.")]
    public RolloutSpec? Rollout { get; set; }

    /// <summary>Where metrics come from.</summary>
    [Description("Prometheus to query for analysis; the operator's configured default when unset.")]
    public PrometheusSpec? Prometheus { get; set; }

    /// <summary>Served-model integrity checks.</summary>
    [Description("How often the digests that pods report are checked against the pinned one, and what a mismatch does.")]
    public IntegritySpec? Integrity { get; set; }
}

/// <summary>The model artifact.</summary>
[Description("The model artifact and its identity.")]
[CelRule("!has(self.source) || !(self.source.startsWith('https://') || self.source.startsWith('file://')) || (has(self.sha256) && size(self.sha256) > 0)",
    "model.sha256 is required for https:// and file:// sources: set it to the sha256 of the ONNX file (sha256sum model.onnx)", FieldPath = ".sha256")]
public sealed class ModelSpec
{
    /// <summary>Name on the inference API.</summary>
    [Required]
    [Description("Name the model is served under on the Open Inference Protocol (/v2/models/{name}).")]
    [RegularExpression("^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    [MaxLength(63)]
    public string Name { get; set; } = "";

    /// <summary>Where the ONNX file comes from.</summary>
    [Required]
    [Description("Where the ONNX model comes from: oci://registry/repo:tag or oci://registry/repo@sha256:<digest>, https://host/path/model.onnx, or file:///path/in/the/server/image.onnx.")]
    [RegularExpression(Patterns.ModelSource)]
    [MaxLength(2048)]
    public string Source { get; set; } = "";

    /// <summary>Expected digest.</summary>
    [Description("Expected sha256 of the model file (64 hex digits, optionally prefixed sha256:). Required for https and file sources; for oci sources it is the digest the registry gives.")]
    [RegularExpression(Patterns.Sha256)]
    public string? Sha256 { get; set; }

    /// <summary>Registry credentials.</summary>
    [Description("Secret in the same namespace with username/password or token for the registry.")]
    public LocalObjectReference? RegistrySecretRef { get; set; }
}

/// <summary>A reference to an object in the same namespace.</summary>
[Description("A reference to an object in the same namespace.")]
public sealed class LocalObjectReference
{
    /// <summary>The object's name.</summary>
    [Required]
    [Description("Name of the object.")]
    [RegularExpression(Patterns.DnsLabel)]
    [MaxLength(253)]
    public string Name { get; set; } = "";
}

/// <summary>How serving pods run.</summary>
[Description("How the serving pods run.")]
[CelRule("!has(self.executionProvider) || self.executionProvider != 'CUDA' || (has(self.gpu) && has(self.gpu.count) && self.gpu.count > 0)",
    "serving.executionProvider CUDA needs a GPU: set serving.gpu.count to 1 or more, or use Auto/CPU", FieldPath = ".executionProvider")]
[CelRule("!has(self.autoscaling) || !has(self.replicas) || self.replicas > 0",
    "serving.replicas 0 turns the model off but serving.autoscaling keeps at least minReplicas: remove serving.autoscaling to scale to 0", FieldPath = ".replicas")]
public sealed class ServingSpec
{
    /// <summary>GruServer image.</summary>
    [Description("GruServer image; the operator's configured default when unset.")]
    [MaxLength(512)]
    public string? Image { get; set; }

    /// <summary>Stable replicas.</summary>
    [Description("Number of stable serving pods.")]
    [DefaultValue(1)]
    [Range(0, 1000)]
    public int Replicas { get; set; } = 1;

    /// <summary>Execution provider.</summary>
    [Description("ONNX Runtime execution provider: Auto uses CUDA when the node has it, else CPU (visible in status and metrics).")]
    [DefaultValue("Auto")]
    public ExecutionProvider ExecutionProvider { get; set; } = ExecutionProvider.Auto;

    /// <summary>GPUs per pod.</summary>
    [Description("GPUs per pod.")]
    public GpuSpec? Gpu { get; set; }

    /// <summary>CPU and memory.</summary>
    [Description("CPU and memory requests and limits of the server container. GPU limits come from serving.gpu.")]
    public ResourcesSpec? Resources { get; set; }

    /// <summary>Node selector.</summary>
    [Description("Node labels the serving pods must match.")]
    public Dictionary<string, string>? NodeSelector { get; set; }

    /// <summary>Extra tolerations.</summary>
    [Description("Extra tolerations; the NoSchedule toleration for the GPU resource is added when gpu.count > 0.")]
    [MaxLength(32)]
    public List<TolerationSpec>? Tolerations { get; set; }

    /// <summary>RuntimeClass.</summary>
    [Description("RuntimeClass of the serving pods, e.g. nvidia.")]
    [RegularExpression(Patterns.DnsLabel)]
    [MaxLength(253)]
    public string? RuntimeClassName { get; set; }

    /// <summary>Longest accepted sequence.</summary>
    [Description("Longest input sequence (time steps) one request may carry; longer requests are rejected as invalid input (400).")]
    [DefaultValue(ServingLimits.MaxSequenceLength)]
    [Range(1, ServingLimits.MaxSequenceLengthUpperBound)]
    public int MaxSequenceLength { get; set; } = ServingLimits.MaxSequenceLength;

    /// <summary>Largest batch one request may carry.</summary>
    [Description("Largest batch (sequences) one request may carry; larger requests are rejected as invalid input (400). A per-request limit, not the dynamic batcher's maximum (batching.maxBatchSize).")]
    [DefaultValue(ServingLimits.MaxRequestBatchSize)]
    [Range(1, ServingLimits.MaxRequestBatchSizeUpperBound)]
    public int MaxRequestBatchSize { get; set; } = ServingLimits.MaxRequestBatchSize;

    /// <summary>Dynamic batching.</summary>
    [Description("Dynamic batching of concurrent requests (GruServer --max-batch-size, --max-queue-delay). Omitted: maxBatchSize 32, maxQueueDelay 2ms; maxBatchSize 1 turns batching off.")]
    public BatchingSpec? Batching { get; set; }

    /// <summary>Sessions.</summary>
    [Description("Stateless requests, or Stateful sessions that keep each sequence's GRU hidden state between requests (GruServer --sessions-mode, --sessions-idle-timeout, --max-sessions). Stateful needs a model whose GRUs' initial_h are inputs and Y_h outputs; GruServer refuses other models at start.")]
    public SessionsSpec? Sessions { get; set; }

    /// <summary>Load-driven replicas.</summary>
    [Description("Load-driven replicas between minReplicas and maxReplicas, from a per-pod target read from Prometheus; spec.serving.replicas is then only the starting count.")]
    public AutoscalingSpec? Autoscaling { get; set; }

    /// <summary>gRPC endpoint.</summary>
    [Description("The Open Inference Protocol's gRPC endpoint (inference.GRPCInferenceService, HTTP/2 without TLS) beside HTTP: GruServer --grpc-port, container and Service port grpc (9000).")]
    public GrpcSpec? Grpc { get; set; }
}

/// <summary>gRPC endpoint.</summary>
[Description("The v2 gRPC endpoint.")]
public sealed class GrpcSpec
{
    /// <summary>Whether to serve gRPC.</summary>
    [Description("Serve gRPC on port 9000 (named grpc on the pods and the Service) as well as HTTP on 8080.")]
    [DefaultValue(false)]
    public bool Enabled { get; set; }
}

/// <summary>GPU request.</summary>
[Description("GPUs per pod.")]
[CelRule("!has(self.product) || size(self.product) == 0 || (has(self.count) && self.count > 0)",
    "serving.gpu.product pins a GPU model and needs serving.gpu.count > 0", FieldPath = ".product")]
public sealed class GpuSpec
{
    /// <summary>GPUs per pod.</summary>
    [Description("GPUs per pod, as resources.limits[resourceName]. 0 runs on CPU nodes.")]
    [DefaultValue(0)]
    [Range(0, 16)]
    public int Count { get; set; }

    /// <summary>Extended resource name.</summary>
    [Description("Extended resource to request: nvidia.com/gpu, or a MIG profile such as nvidia.com/mig-1g.10gb.")]
    [DefaultValue("nvidia.com/gpu")]
    [RegularExpression(Patterns.QualifiedName)]
    [MaxLength(253)]
    public string ResourceName { get; set; } = "nvidia.com/gpu";

    /// <summary>GPU product.</summary>
    [Description("Optional GPU product (node label nvidia.com/gpu.product, e.g. NVIDIA-A100-SXM4-40GB) the pods must land on.")]
    [MaxLength(128)]
    public string? Product { get; set; }
}

/// <summary>Requests and limits.</summary>
[Description("Compute resources of the server container.")]
public sealed class ResourcesSpec
{
    /// <summary>Requests.</summary>
    [Description("Minimum resources, e.g. {cpu: \"1\", memory: 2Gi}.")]
    public Dictionary<string, ResourceQuantity>? Requests { get; set; }

    /// <summary>Limits.</summary>
    [Description("Maximum resources, e.g. {memory: 4Gi}.")]
    public Dictionary<string, ResourceQuantity>? Limits { get; set; }
}

/// <summary>Toleration operator.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TolerationOperator>))]
public enum TolerationOperator
{
    /// <summary>Matches any value.</summary>
    Exists,

    /// <summary>Matches the given value.</summary>
    Equal,
}

/// <summary>Taint effect.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TaintEffect>))]
public enum TaintEffect
{
    /// <summary>Do not schedule.</summary>
    NoSchedule,

    /// <summary>Avoid scheduling.</summary>
    PreferNoSchedule,

    /// <summary>Evict.</summary>
    NoExecute,
}

/// <summary>A toleration.</summary>
[Description("A toleration, as in a pod spec.")]
[CelRule("!has(self.operator) || self.operator != 'Exists' || !has(self.value) || size(self.value) == 0",
    "a toleration with operator Exists must not set value", FieldPath = ".value")]
public sealed class TolerationSpec
{
    /// <summary>Taint key.</summary>
    [Description("Taint key; empty with operator Exists matches every taint.")]
    [MaxLength(317)]
    public string? Key { get; set; }

    /// <summary>Operator.</summary>
    [Description("Exists or Equal.")]
    [DefaultValue("Equal")]
    public TolerationOperator Operator { get; set; } = TolerationOperator.Equal;

    /// <summary>Value.</summary>
    [Description("Taint value for operator Equal.")]
    [MaxLength(63)]
    public string? Value { get; set; }

    /// <summary>Effect.</summary>
    [Description("Taint effect to match; empty matches all effects.")]
    public TaintEffect? Effect { get; set; }

    /// <summary>Seconds to stay after a NoExecute taint.</summary>
    [Description("For NoExecute: how long the pod stays bound after the taint appears.")]
    [Range(0, int.MaxValue)]
    public long? TolerationSeconds { get; set; }
}

/// <summary>Dynamic batching.</summary>
[Description("Dynamic batching: concurrent requests run as one model batch. Sequences of different lengths share a batch only when the model masks padding with a sequence_lengths input; otherwise equal lengths are batched together.")]
public sealed class BatchingSpec
{
    /// <summary>Largest batch the batcher forms.</summary>
    [Description("Largest batch (sequences) the server forms from concurrent requests. A single request may still carry up to serving.maxRequestBatchSize and then runs as its own batch.")]
    [DefaultValue(ServingLimits.MaxBatchSize)]
    [Range(1, ServingLimits.MaxBatchSizeUpperBound)]
    public int MaxBatchSize { get; set; } = ServingLimits.MaxBatchSize;

    /// <summary>Longest wait to fill a batch.</summary>
    [Description("Longest time a queued request waits for its batch to fill, e.g. 2ms; 0ms batches only what is already queued; at most 10s.")]
    [DefaultValue(ServingLimits.MaxQueueDelay)]
    [RegularExpression(Patterns.Duration)]
    public string MaxQueueDelay { get; set; } = ServingLimits.MaxQueueDelay;
}

/// <summary>Sessions.</summary>
[Description("Stateful sessions keep the GRU hidden state per sequence id between requests.")]
public sealed class SessionsSpec
{
    /// <summary>Mode.</summary>
    [Description("Stateless (each request carries whole sequences), or Stateful (requests carry sequence_id, sequence_start and sequence_end parameters and the server keeps each sequence's hidden state).")]
    [DefaultValue("Stateless")]
    public SessionMode Mode { get; set; } = SessionMode.Stateless;

    /// <summary>Idle timeout.</summary>
    [Description("A session idle this long is dropped, e.g. 5m.")]
    [DefaultValue(ServingLimits.SessionIdleTimeout)]
    [RegularExpression(Patterns.Duration)]
    public string IdleTimeout { get; set; } = ServingLimits.SessionIdleTimeout;

    /// <summary>Sequence drain on scale-down.</summary>
    [Description("When a pod is removed (scale-down, rollout), GruServer refuses new sequences but keeps serving its live ones until they end or idle out, at most this long, every answer meanwhile handing the client its sequence's state (sequence_handoff) so what is still live when the pod stops continues on another replica; the pod's terminationGracePeriodSeconds grows with it. E.g. 30s; 0s stops at once.")]
    [DefaultValue(ServingLimits.SequenceDrainTimeout)]
    [RegularExpression(Patterns.Duration)]
    public string DrainTimeout { get; set; } = ServingLimits.SequenceDrainTimeout;

    /// <summary>Session cap.</summary>
    [Description("Most sessions one pod keeps; beyond it new sessions are refused (429) until one ends or expires.")]
    [DefaultValue(ServingLimits.MaxSessions)]
    [Range(1, ServingLimits.MaxSessionsUpperBound)]
    public int MaxSessions { get; set; } = ServingLimits.MaxSessions;
}

/// <summary>SLOs.</summary>
[Description("Service level objectives.")]
public sealed class SloSpec
{
    /// <summary>p95 latency.</summary>
    [Description("95th percentile request latency, e.g. 200ms.")]
    [DefaultValue("200ms")]
    [RegularExpression(Patterns.Duration)]
    public string LatencyP95 { get; set; } = "200ms";

    /// <summary>5xx fraction.</summary>
    [Description("Largest acceptable fraction of requests answered 5xx, as a decimal string, e.g. \"0.01\".")]
    [DefaultValue("0.01")]
    [RegularExpression(Patterns.Fraction)]
    public string ErrorRate { get; set; } = "0.01";

    /// <summary>Invalid input fraction.</summary>
    [Description("Largest acceptable fraction of requests rejected as invalid input, e.g. \"0.05\".")]
    [DefaultValue("0.05")]
    [RegularExpression(Patterns.Fraction)]
    public string InputSchemaErrorRate { get; set; } = "0.05";

    /// <summary>Minimum sample size.</summary>
    [Description("Fewer requests than this in an analysis window make the result inconclusive, never a pass.")]
    [DefaultValue(50)]
    [Range(1, 1000000000)]
    public int MinRequests { get; set; } = 50;
}

/// <summary>Rollout strategy.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RolloutStrategy>))]
public enum RolloutStrategy
{
    /// <summary>A canary judged by analysis.</summary>
    Canary,

    /// <summary>Replace all pods at once.</summary>
    Recreate,
}

/// <summary>Rollout.</summary>
[Description("How a new model version rolls out. A change of spec.model starts a canary; other changes roll in place.")]
public sealed class RolloutSpec
{
    /// <summary>Strategy.</summary>
    [Description("Canary or Recreate.")]
    [DefaultValue("Canary")]
    public RolloutStrategy Strategy { get; set; } = RolloutStrategy.Canary;

    /// <summary>Paused.</summary>
    [Description("Holds a running canary at its current step.")]
    [DefaultValue(false)]
    public bool Paused { get; set; }

    /// <summary>Canary settings.</summary>
    [Description("Canary steps, analysis and traffic routing.")]
    public CanarySpec? Canary { get; set; }
}

/// <summary>Canary.</summary>
[Description("Canary steps, analysis and traffic routing.")]
[CelRule("!has(self.steps) || self.steps.filter(s, has(s.shadow) && s.shadow).size() == 0 || (has(self.steps[0].shadow) && self.steps[0].shadow && self.steps.filter(s, has(s.shadow) && s.shadow).size() == 1)",
    "only steps[0] may be a shadow step (the canary sees mirrored traffic before any user): remove shadow from later steps", FieldPath = ".steps")]
[CelRule("!has(self.mirrorSample) || (has(self.steps) && size(self.steps) > 0 && has(self.steps[0].shadow) && self.steps[0].shadow)",
    "canary.mirrorSample needs a shadow first step: add {shadow: true, setWeight: 0, pause: ...} as steps[0] or remove mirrorSample", FieldPath = ".mirrorSample")]
[CelRule("!has(self.mirrorSample) || double(self.mirrorSample) > 0.0",
    "canary.mirrorSample must be above 0 (a fraction in (0, 1] of stable's requests copied to the canary), e.g. \"0.5\"", FieldPath = ".mirrorSample")]
public sealed class CanarySpec
{
    /// <summary>Mirror sample.</summary>
    [Description("During a shadow step, the fraction in (0, 1] of stable's requests (of its Stateful sequences) each stable pod copies to the canary, as a decimal string; default \"0.1\".")]
    [RegularExpression(Patterns.Fraction)]
    public string? MirrorSample { get; set; }

    /// <summary>Steps.</summary>
    [Description("Weights the canary goes through, each held for its pause; weights must increase.")]
    [MaxLength(20)]
    public List<CanaryStep>? Steps { get; set; }

    /// <summary>Analysis.</summary>
    [Description("How the canary is judged.")]
    public AnalysisSpec? Analysis { get; set; }

    /// <summary>Traffic routing.</summary>
    [Description("How traffic is split; by default it follows ready replicas of stable vs canary.")]
    public TrafficRoutingSpec? TrafficRouting { get; set; }

    /// <summary>Surge.</summary>
    [Description("true: canary pods come on top of stable's replicas; false: they replace stable pods (no extra GPUs needed).")]
    [DefaultValue(true)]
    public bool Surge { get; set; } = true;

    /// <summary>Progress deadline.</summary>
    [Description("A canary not ready by then (e.g. no free GPU) is rolled back with a reason, e.g. 10m.")]
    [DefaultValue("10m")]
    [RegularExpression(Patterns.Duration)]
    public string ProgressDeadline { get; set; } = "10m";
}

/// <summary>A canary step.</summary>
[Description("One canary step.")]
[CelRule("!has(self.shadow) || !self.shadow || self.setWeight == 0", "a shadow step gives the canary no live traffic: set setWeight: 0", FieldPath = ".setWeight")]
[CelRule("!has(self.shadow) || !self.shadow || has(self.pause)", "a shadow step needs a pause: how long the canary is judged on mirrored traffic, e.g. 2m", FieldPath = ".pause")]
public sealed class CanaryStep
{
    /// <summary>Shadow.</summary>
    [Description("Only as steps[0], with setWeight 0: a dark launch. Users reach only stable; stable's pods copy canary.mirrorSample of their requests to the canary and compare its outputs, and analysis judges latency, errors and divergence before any user sees the canary.")]
    [DefaultValue(false)]
    public bool Shadow { get; set; }

    /// <summary>Weight.</summary>
    [Required]
    [Description("Percentage of traffic for the canary.")]
    [Range(0, 100)]
    public int SetWeight { get; set; }

    /// <summary>Pause.</summary>
    [Description("How long to hold this step while analysis runs, e.g. 2m.")]
    [RegularExpression(Patterns.Duration)]
    public string? Pause { get; set; }
}

/// <summary>Inconclusive handling.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<InconclusiveAction>))]
public enum InconclusiveAction
{
    /// <summary>Pause the rollout.</summary>
    Pause,

    /// <summary>Roll back.</summary>
    Rollback,
}

/// <summary>Analysis.</summary>
[Description("Canary analysis.")]
public sealed class AnalysisSpec
{
    /// <summary>Interval.</summary>
    [Description("Time between analysis runs, e.g. 30s.")]
    [DefaultValue("30s")]
    [RegularExpression(Patterns.Duration)]
    public string Interval { get; set; } = "30s";

    /// <summary>Failure limit.</summary>
    [Description("Consecutive failed runs that roll the canary back.")]
    [DefaultValue(2)]
    [Range(1, 100)]
    public int FailureLimit { get; set; } = 2;

    /// <summary>Inconclusive limit.</summary>
    [Description("Consecutive inconclusive runs that trigger onInconclusive.")]
    [DefaultValue(4)]
    [Range(1, 100)]
    public int InconclusiveLimit { get; set; } = 4;

    /// <summary>What inconclusive does.</summary>
    [Description("Pause or Rollback once inconclusiveLimit is reached.")]
    [DefaultValue("Pause")]
    public InconclusiveAction OnInconclusive { get; set; } = InconclusiveAction.Pause;

    /// <summary>Compare with stable.</summary>
    [Description("Also judge the canary against stable, not only against the absolute SLOs.")]
    [DefaultValue(true)]
    public bool CompareToStable { get; set; } = true;

    /// <summary>Divergence.</summary>
    [Description("Output divergence of the canary from stable on mirrored requests (a shadow step), measured by stable's pods; without thresholds it is reported, not judged.")]
    public DivergenceSpec? Divergence { get; set; }

    /// <summary>Extra checks.</summary>
    [Description("Extra PromQL checks; {{namespace}} {{model}} {{track}} {{revision}} are substituted.")]
    [MaxLength(16)]
    [ListMap("name")]
    public List<AnalysisMetric>? Metrics { get; set; }
}

/// <summary>Divergence thresholds.</summary>
[Description("How close the canary's outputs must stay to stable's on the same (mirrored) requests, per output.")]
[CelRule("!has(self.maxAbs) || double(self.maxAbs) in [1e-7, 2e-7, 5e-7, 1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]", "divergence.maxAbs must be a histogram bound: 1e-7, 2e-7, 5e-7, 1e-6, ... 0.1, 0.2, 0.5, 1, 2, 5, 10 (a 1-2-5 grid)", FieldPath = ".maxAbs")]
[CelRule("!has(self.maxRel) || double(self.maxRel) in [1e-7, 2e-7, 5e-7, 1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]", "divergence.maxRel must be a histogram bound: 1e-7, 2e-7, 5e-7, 1e-6, ... 0.1, 0.2, 0.5, 1, 2 (a 1-2-5 grid)", FieldPath = ".maxRel")]
[CelRule("!has(self.within) || double(self.within) > 0.0", "divergence.within must be above 0, e.g. \"0.99\"", FieldPath = ".within")]
public sealed class DivergenceSpec
{
    /// <summary>Absolute tolerance.</summary>
    [Description("Largest |canary - stable| per output a compared request may show, a 1-2-5 grid value as a decimal string, e.g. \"1e-2\".")]
    [RegularExpression(Patterns.Decimal)]
    public string? MaxAbs { get; set; }

    /// <summary>Relative tolerance.</summary>
    [Description("Largest |canary - stable| / max(|canary|, |stable|) per output, a 1-2-5 grid value, e.g. \"0.05\".")]
    [RegularExpression(Patterns.Decimal)]
    public string? MaxRel { get; set; }

    /// <summary>Share within.</summary>
    [Description("Fraction of compared requests that must stay within maxAbs and maxRel, e.g. \"0.99\".")]
    [DefaultValue("0.99")]
    [RegularExpression(Patterns.Fraction)]
    public string Within { get; set; } = "0.99";

    /// <summary>Arg-max agreement.</summary>
    [Description("Smallest fraction of compared classification-shaped outputs ([batch, classes]) whose arg-max agrees on every row, e.g. \"0.98\".")]
    [RegularExpression(Patterns.Fraction)]
    public string? MinArgMaxAgreement { get; set; }
}

/// <summary>An extra analysis metric.</summary>
[Description("A PromQL check with a threshold range.")]
public sealed class AnalysisMetric
{
    /// <summary>Name.</summary>
    [Required]
    [Description("Name of the check, shown in status.")]
    [RegularExpression(Patterns.DnsLabel)]
    [MaxLength(63)]
    public string Name { get; set; } = "";

    /// <summary>Query.</summary>
    [Required]
    [Description("PromQL returning one number.")]
    [MaxLength(4096)]
    public string Query { get; set; } = "";

    /// <summary>Threshold.</summary>
    [Required]
    [Description("The value passes when it lies within [min, max].")]
    public ThresholdRange ThresholdRange { get; set; } = new();
}

/// <summary>Range.</summary>
[Description("Inclusive bounds; at least one is required.")]
[CelRule("has(self.min) || has(self.max)", "thresholdRange needs min, max or both")]
[CelRule("!has(self.min) || !has(self.max) || self.min <= self.max", "thresholdRange.min must not exceed thresholdRange.max", FieldPath = ".min")]
public sealed class ThresholdRange
{
    /// <summary>Lower bound.</summary>
    [Description("Lowest passing value.")]
    public double? Min { get; set; }

    /// <summary>Upper bound.</summary>
    [Description("Highest passing value.")]
    public double? Max { get; set; }
}

/// <summary>Traffic routing.</summary>
[Description("How traffic is split between stable and canary; at most one mechanism.")]
[CelRule("!(has(self.replicas) && has(self.gatewayAPI))", "set either trafficRouting.replicas or trafficRouting.gatewayAPI, not both")]
public sealed class TrafficRoutingSpec
{
    /// <summary>Replica-weighted.</summary>
    [Description("Traffic follows the ready replicas of stable vs canary (the default).")]
    public ReplicaRouting? Replicas { get; set; }

    /// <summary>Gateway API.</summary>
    [Description("Exact weights through a Gateway API HTTPRoute.")]
    [JsonPropertyName("gatewayAPI")]
    public GatewayApiRouting? GatewayApi { get; set; }
}

/// <summary>Replica-weighted routing (no settings yet).</summary>
[Description("Replica-weighted routing; no settings.")]
public sealed class ReplicaRouting;

/// <summary>Gateway API routing.</summary>
[Description("Gateway API routing.")]
public sealed class GatewayApiRouting
{
    /// <summary>HTTPRoute name.</summary>
    [Required]
    [Description("HTTPRoute in the same namespace whose backend weights the operator sets.")]
    [RegularExpression(Patterns.DnsLabel)]
    [MaxLength(253)]
    public string HttpRoute { get; set; } = "";
}

/// <summary>Prometheus.</summary>
[Description("Prometheus to query.")]
public sealed class PrometheusSpec
{
    /// <summary>Address.</summary>
    [Description("Base URL, e.g. http://prometheus.monitoring.svc:9090.")]
    [RegularExpression("^https?://[^ ]+$")]
    [MaxLength(2048)]
    public string? Address { get; set; }
}

/// <summary>Mismatch handling.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MismatchAction>))]
public enum MismatchAction
{
    /// <summary>Roll back to the last verified revision.</summary>
    Rollback,

    /// <summary>Report only.</summary>
    Alert,
}

/// <summary>Integrity.</summary>
[Description("Served-model integrity checks.")]
public sealed class IntegritySpec
{
    /// <summary>Interval.</summary>
    [Description("How often served digests are checked, e.g. 1m.")]
    [DefaultValue("1m")]
    [RegularExpression(Patterns.Duration)]
    public string VerifyInterval { get; set; } = "1m";

    /// <summary>Action.</summary>
    [Description("Rollback or Alert when a pod serves a digest other than the pinned one.")]
    [DefaultValue("Rollback")]
    public MismatchAction OnMismatch { get; set; } = MismatchAction.Rollback;
}

namespace GruOperator.Serving;

/// <summary>Labels and annotations on everything the operator owns (see docs/API.md).</summary>
internal static class Labels
{
    public const string Model = "serving.gru.dev/model";
    public const string Track = "serving.gru.dev/track";
    public const string Revision = "serving.gru.dev/revision";
    public const string ModelSourceAnnotation = "serving.gru.dev/model-source";
    public const string ModelSha256Annotation = "serving.gru.dev/model-sha256";
    /// <summary>Hash of the last apply body; with the live fields it tells whether an apply would change anything.</summary>
    public const string AppliedHashAnnotation = "serving.gru.dev/applied-hash";
    public const string ManagedBy = "app.kubernetes.io/managed-by";
    public const string Name = "app.kubernetes.io/name";
    public const string Instance = "app.kubernetes.io/instance";
}

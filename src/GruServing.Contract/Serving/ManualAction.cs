namespace GruServing.Contract.Serving;

/// <summary>
/// The manual-action annotation on a GruModel (<c>serving.gru.dev/action=promote|abort|resume|retry|re-resolve</c>):
/// written by humans and by <c>kubectl gru</c>, read once and removed by the operator. One definition for both sides.
/// </summary>
public static class ManualAction
{
    /// <summary>The annotation key.</summary>
    public const string Annotation = "serving.gru.dev/action";
}

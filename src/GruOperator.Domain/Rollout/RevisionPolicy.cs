namespace GruOperator.Domain.Rollout;

/// <summary>
/// Revisions count model versions: a new revision starts when the model (source or digest) changes, never for other
/// spec edits (replicas, resources), which roll in place under the same revision.
/// </summary>
public static class RevisionPolicy
{
    /// <summary>
    /// The revision the stable track should carry. Examples: no previous revision → "1"; previous "3" for the same
    /// model → "3"; previous "3" for another model → "4"; an unparseable previous revision restarts at "1".
    /// </summary>
    public static string Next(string? currentRevision, string? currentModelUri, string? currentSha256Hex, ModelSource desired)
    {
        if (string.IsNullOrEmpty(currentRevision) || !long.TryParse(currentRevision, out var current) || current < 1)
        {
            return "1";
        }
        var sameModel = currentModelUri == desired.Uri && (currentSha256Hex ?? "") == (desired.Sha256Hex ?? "");
        return sameModel ? currentRevision : (current + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The revision for a model version new to the rollout: one more than any revision it has used, so a model tried after
    /// a rolled-back or superseded canary never reuses that canary's number. Examples: ["3"] → "4"; ["3", "4", "5"] → "6";
    /// nothing numbered yet (or only unparseable revisions) → "1".
    /// </summary>
    public static string After(IEnumerable<string?> used) =>
        (used.Select(r => long.TryParse(r, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0)
            .DefaultIfEmpty(0).Max() + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
}

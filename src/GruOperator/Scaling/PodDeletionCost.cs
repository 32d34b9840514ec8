using System.Globalization;

namespace GruOperator.Scaling;

/// <summary>
/// Kubernetes' pod-deletion-cost from a pod's live sequences: a ReplicaSet scaling down removes the pods with the
/// lowest cost first (after unscheduled, pending and not-ready ones), so the pods holding the fewest live Stateful
/// sequences go first and the fewest sequences have to move. Pure: parsing and comparing only.
/// </summary>
internal static class PodDeletionCost
{
    /// <summary>The annotation the ReplicaSet controller reads (a 32-bit integer; absent means 0).</summary>
    public const string Annotation = "controller.kubernetes.io/pod-deletion-cost";

    /// <summary>GruServer's gauge of live Stateful sequences, as its Prometheus endpoint exposes it.</summary>
    public const string SessionsGauge = "gru_sessions_active";

    /// <summary>
    /// The value of <see cref="SessionsGauge"/> in a Prometheus text exposition, summed over its series (GruServer has
    /// one); null when the gauge is absent or not a finite non-negative number, so a pod that did not say is left alone.
    /// </summary>
    public static int? Sessions(string exposition)
    {
        ArgumentNullException.ThrowIfNull(exposition);
        long? total = null;
        foreach (var raw in exposition.AsSpan().EnumerateLines())
        {
            var line = raw.Trim();
            if (!line.StartsWith(SessionsGauge, StringComparison.Ordinal)) continue;
            var rest = line[SessionsGauge.Length..];
            if (rest.Length == 0 || rest[0] is not ('{' or ' ')) continue; // another metric sharing the prefix
            if (rest[0] == '{')
            {
                var close = rest.LastIndexOf('}');
                if (close < 0) return null;
                rest = rest[(close + 1)..];
            }
            var fields = rest.Trim();
            var end = fields.IndexOf(' ');
            var value = end < 0 ? fields : fields[..end]; // a timestamp may follow the value
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number) || number < 0) return null;
            total = (total ?? 0) + (long)number;
        }
        return total is null ? null : (int)Math.Min(total.Value, int.MaxValue);
    }

    /// <summary>The annotation value to write for <paramref name="sessions"/>, or null when <paramref name="current"/> already says it.</summary>
    public static string? Change(string? current, int sessions)
    {
        var wanted = sessions.ToString(CultureInfo.InvariantCulture);
        return current == wanted ? null : wanted;
    }
}

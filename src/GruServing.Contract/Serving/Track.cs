namespace GruServing.Contract.Serving;

/// <summary>The two sides of a rollout: the label value on pods and metrics, and GruServer's <c>--track</c>.</summary>
public enum Track
{
    /// <summary>The revision serving most traffic today.</summary>
    Stable,

    /// <summary>The revision under analysis.</summary>
    Canary,
}

/// <summary>The label form of <see cref="Track"/>: <c>stable</c> or <c>canary</c>.</summary>
public static class Tracks
{
    /// <summary>The stable track's label.</summary>
    public const string StableLabel = "stable";

    /// <summary>The canary track's label.</summary>
    public const string CanaryLabel = "canary";

    /// <summary>How error messages list the choices.</summary>
    public const string Choices = StableLabel + " or " + CanaryLabel;

    /// <summary>The HTTP header GruServer answers every infer request with (its track), and a client sends back to
    /// stay on that track: a Gateway API route rule matching it on one track's Service pins a live sequence there
    /// during a canary (the operator leaves such rules as they are when it writes weights).</summary>
    public const string Header = "x-gru-track";

    /// <summary>The label value GruServer and the operator write.</summary>
    public static string ToLabel(this Track track) => track switch
    {
        Track.Stable => StableLabel,
        Track.Canary => CanaryLabel,
        _ => throw new ArgumentOutOfRangeException(nameof(track), track, "unknown track"),
    };

    /// <summary>Parses a label value (lowercase, as on the pods).</summary>
    public static bool TryParse(string? text, out Track track)
    {
        track = text == CanaryLabel ? Track.Canary : Track.Stable;
        return text is StableLabel or CanaryLabel;
    }
}

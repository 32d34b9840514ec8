using GruOperator.Api;
using GruOperator.Domain.Rollout;

namespace GruOperator.Rollout;

/// <summary>What the <c>serving.gru.dev/action</c> annotation asks of the rollout.</summary>
/// <param name="Command">The rollout command; None when the annotation is absent or not the rollout's.</param>
/// <param name="Unknown">The annotation's value when it is no action the operator knows (refused with an Event and removed).</param>
internal sealed record RolloutCommandRequest(RolloutCommand Command, string? Unknown)
{
    public static RolloutCommandRequest None { get; } = new(RolloutCommand.None, null);
}

/// <summary>Reads the manual-control annotation: <c>kubectl annotate gru NAME serving.gru.dev/action=promote|abort|resume|retry</c>.</summary>
internal static class RolloutCommandAnnotation
{
    /// <summary>The annotation key, from the contract <c>kubectl gru</c> writes by.</summary>
    public const string Name = GruServing.Contract.Serving.ManualAction.Annotation;

    /// <summary>The integrity check's tag re-resolution: a known value the rollout leaves to its owner (not removed here).</summary>
    public const string ReResolve = "re-resolve";

    /// <summary>The values the annotation may take, as error messages list them.</summary>
    public const string Choices = "promote, abort, resume, retry or re-resolve";

    /// <summary>The command the annotation on <paramref name="model"/> carries.</summary>
    public static RolloutCommandRequest Read(GruModel model)
    {
        if (model.Metadata.Annotations is not { } annotations || !annotations.TryGetValue(Name, out var raw)) return RolloutCommandRequest.None;
        return raw.Trim().ToLowerInvariant() switch
        {
            "promote" => new(RolloutCommand.Promote, null),
            "abort" => new(RolloutCommand.Abort, null),
            "resume" => new(RolloutCommand.Resume, null),
            "retry" => new(RolloutCommand.Retry, null),
            ReResolve => RolloutCommandRequest.None,
            _ => new(RolloutCommand.None, raw),
        };
    }
}

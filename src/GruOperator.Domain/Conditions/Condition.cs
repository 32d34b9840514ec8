using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace GruOperator.Domain.Conditions;

/// <summary>A status condition in the shape of metav1.Condition.</summary>
[Description("A condition in the metav1.Condition shape.")]
public sealed record Condition(
    [property: Required, Description("Condition type: Ready, Progressing, ModelResolved, ModelVerified or SLOMet.")] string Type,
    [property: Required, Description("True, False or Unknown.")] string Status,
    [property: Required, Description("Machine-readable reason in CamelCase.")] string Reason,
    [property: Required, Description("Human-readable sentence: what happened and, for a refusal, how to fix it.")] string Message,
    [property: Description("metadata.generation the condition was computed from.")] long ObservedGeneration,
    [property: Required, Description("When status last changed (not reason or message).")] DateTimeOffset LastTransitionTime)
{
    /// <summary>status "True".</summary>
    public const string True = "True";

    /// <summary>status "False".</summary>
    public const string False = "False";

    /// <summary>status "Unknown".</summary>
    public const string Unknown = "Unknown";

    /// <summary>Whether the condition holds.</summary>
    [JsonIgnore]
    public bool IsTrue => Status == True;
}

/// <summary>The condition types a GruModel reports.</summary>
public static class ConditionTypes
{
    /// <summary>The model is served by enough ready replicas.</summary>
    public const string Ready = "Ready";

    /// <summary>A rollout (in-place or canary) is under way.</summary>
    public const string Progressing = "Progressing";

    /// <summary>Every ready pod serves the pinned digest (the integrity check).</summary>
    public const string ModelVerified = "ModelVerified";

    /// <summary>An oci:// source is pinned to a digest (False while the registry or its Secret fails).</summary>
    public const string ModelResolved = "ModelResolved";

    /// <summary>The SLOs hold (later issue).</summary>
    public const string SloMet = "SLOMet";
}

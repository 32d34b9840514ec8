using System.Text.Json.Nodes;

namespace E2E.Tests.Lane;

/// <summary>What the lane tests read of a GruModel as kubectl prints it (-o json).</summary>
internal static class GruModelJson
{
    public static string? Phase(JsonObject model) => model["status"]?["phase"]?.GetValue<string>();

    public static string? StableDigest(JsonObject model) => model["status"]?["stable"]?["modelDigest"]?.GetValue<string>();

    public static string? LastOutcome(JsonObject model) => model["status"]?["history"]?.AsArray().FirstOrDefault()?["outcome"]?.GetValue<string>();

    /// <summary>The status, for a timeout's message.</summary>
    public static string Describe(JsonObject model) => model["status"]?.ToJsonString() ?? "(no status)";
}

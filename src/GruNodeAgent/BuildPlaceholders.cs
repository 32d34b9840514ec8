using LocalServers;

namespace GruNodeAgent;

/// <summary>
/// Resolves "{build:src/GruServer/GruServer.dll}" in an image mapping to that project's build output next to the agent's
/// own (same configuration and target framework), so one configuration works in any clone and build configuration.
/// </summary>
internal static class BuildPlaceholders
{
    public static string Resolve(string value)
    {
        const string prefix = "{build:";
        if (!value.StartsWith(prefix, StringComparison.Ordinal) || !value.EndsWith('}')) return value;
        var relative = value[prefix.Length..^1];
        try
        {
            // The same search the tests and the demo use to find a build output; only the placeholder syntax is the agent's.
            return BuildOutput.Locate(Path.GetDirectoryName(relative)!, Path.GetFileName(relative));
        }
        catch (FileNotFoundException ex)
        {
            throw new FileNotFoundException($"NodeAgent:Images refers to {value}, but {ex.Message}", ex);
        }
    }
}

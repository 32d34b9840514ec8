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
        var project = Path.GetDirectoryName(relative)!;
        var file = Path.GetFileName(relative);
        var parts = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar).Split(Path.DirectorySeparatorChar);
        var configuration = parts.Length >= 2 ? parts[^2] : "Release";
        var tfm = parts[^1];
        var candidate = Path.Combine([project, "bin", configuration, tfm, file]);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, candidate);
            if (File.Exists(path)) return path;
        }

        throw new FileNotFoundException($"NodeAgent:Images refers to {value}, but {candidate} was not found above {AppContext.BaseDirectory}; build it with `dotnet build {project} -c {configuration}`");
    }
}

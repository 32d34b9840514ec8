namespace LocalServers;

/// <summary>Finds another project's build output, in the configuration and target framework of the running
/// assembly (a test, the demo or the node agent; its own path ends in bin/&lt;Configuration&gt;/&lt;tfm&gt;/), searching upwards for the repository.</summary>
public static class BuildOutput
{
    /// <summary>e.g. <c>Locate("src/GruServer", "GruServer.dll")</c>.</summary>
    public static string Locate(string projectDirectory, string fileName)
    {
        ArgumentNullException.ThrowIfNull(projectDirectory);
        var baseDirectory = AppContext.BaseDirectory;
        var parts = baseDirectory.TrimEnd(Path.DirectorySeparatorChar).Split(Path.DirectorySeparatorChar);
        var configuration = parts.Length >= 2 ? parts[^2] : "Release";
        var tfm = parts[^1];
        var relative = Path.Combine([.. projectDirectory.Split('/'), "bin", configuration, tfm, fileName]);
        for (var dir = new DirectoryInfo(baseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"{relative} not found above {baseDirectory}; build it with `dotnet build {projectDirectory} -c {configuration}`.");
    }
}

namespace TestSupport;

/// <summary>Paths in this repository, found upwards from the running assembly.</summary>
public static class Repository
{
    /// <summary>The directory holding GruOperator.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The bundled sample model that `make serve` serves.</summary>
    public static string SampleModelPath => Path.Combine(Root, "config", "samples", "models", "sample-gru.onnx");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "GruOperator.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"GruOperator.sln not found above {AppContext.BaseDirectory}.");
    }
}

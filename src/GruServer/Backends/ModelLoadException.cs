namespace GruServer.Backends;

/// <summary>The model cannot be loaded as configured (bad file, unsupported types, CUDA required but absent).</summary>
internal sealed class ModelLoadException : Exception
{
    public ModelLoadException()
    {
    }

    public ModelLoadException(string message)
        : base(message)
    {
    }

    public ModelLoadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

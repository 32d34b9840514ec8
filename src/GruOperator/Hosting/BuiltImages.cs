using System.Reflection;

namespace GruOperator.Hosting;

/// <summary>
/// The GruServer and model-fetcher (gru-model) images of the build this operator came from, baked into its assembly
/// metadata by GruOperator.csproj from GruImageRegistry and GruImageTag: ghcr.io/gru-operator/NAME:VERSION normally,
/// REGISTRY/NAME:TAG when <c>make images REGISTRY=... TAG=...</c> built it. The defaults of --server-image and
/// --model-fetcher-image, so an operator image always starts pods from the images built beside it.
/// </summary>
internal static class BuiltImages
{
    public const string ServerKey = "GruServerImage";
    public const string ModelFetcherKey = "GruModelImage";

    public static string Server { get; } = Read(ServerKey);

    public static string ModelFetcher { get; } = Read(ModelFetcherKey);

    private static string Read(string key) =>
        typeof(BuiltImages).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value is { Length: > 0 } image
            ? image
            : throw new InvalidOperationException($"the operator assembly carries no {key} metadata: GruOperator.csproj's AssemblyMetadata items were not built");
}

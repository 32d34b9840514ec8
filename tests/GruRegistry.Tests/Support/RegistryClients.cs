using GruRegistry.Distribution;
using GruRegistry.Models;
using Microsoft.Extensions.DependencyInjection;

namespace GruRegistry.Tests.Support;

/// <summary>Clients wired as in production (DI, resilient HTTP client), with short backoffs for tests.</summary>
internal sealed class RegistryClients : IDisposable
{
    private readonly ServiceProvider _services;

    public RegistryClients(string plainHttpHost, Action<RegistryOptions>? configure = null)
    {
        _services = new ServiceCollection()
            .AddLogging()
            .AddRegistryClient(o =>
            {
                o.PlainHttpRegistries.Add(plainHttpHost);
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(20);
                configure?.Invoke(o);
            })
            .BuildServiceProvider();
    }

    public DistributionClient Distribution(RegistryCredentials? credentials = null) =>
        _services.GetRequiredService<DistributionClientFactory>().Create(credentials ?? RegistryCredentials.Anonymous);

    public ModelArtifactClient Models(RegistryCredentials? credentials = null) => new(Distribution(credentials));

    public void Dispose() => _services.Dispose();
}

/// <summary>Model files and configs for registry tests; the registry does not care whether the bytes are valid ONNX.</summary>
internal static class TestArtifacts
{
    public static ModelConfig Config(string name = "session-recs") => new(
        name, "gru-registry-tests",
        [new TensorSignature("input", "FP32", [-1, -1, 4])],
        [new TensorSignature("output", "FP32", [-1, 2])],
        new GruShape(4, 8, 1, "Forward", false));

    public static async Task<string> RandomFileAsync(long size, int seed)
    {
        var path = Path.Combine(Path.GetTempPath(), "gru-registry-tests", $"{Guid.NewGuid():N}.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var random = new Random(seed);
        var buffer = new byte[1 << 20];
        await using var file = File.Create(path);
        for (long written = 0; written < size; written += buffer.Length)
        {
            random.NextBytes(buffer);
            await file.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written)));
        }

        return path;
    }

    public static string TempPath(string name = "pulled.onnx") =>
        Path.Combine(Path.GetTempPath(), "gru-registry-tests", Guid.NewGuid().ToString("N"), name);
}

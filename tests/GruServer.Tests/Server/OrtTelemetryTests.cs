using TestSupport;

namespace GruServer.Tests.Server;

/// <summary>
/// ONNX Runtime's Linux packages send telemetry by default (since 1.29) and keep a device id under $HOME/.cache; GruServer
/// turns that off before loading a model. Found on the real-node lane, where the read-only root made ONNX Runtime log that
/// it could not persist its device id; on a developer machine it silently wrote one.
/// </summary>
public sealed class OrtTelemetryTests
{
    [Fact]
    public async Task A_serving_GruServer_leaves_no_telemetry_device_id_and_logs_no_telemetry()
    {
        var model = await GruTestModels.WriteAsync();
        var home = Directory.CreateTempSubdirectory("gru-home-").FullName;
        try
        {
            // CI set to empty: ONNX Runtime skips telemetry by itself when CI is truthy, which would hide a regression here.
            await using (var server = await GruServerProcess.StartAsync(new GruServerStartOptions
            {
                ModelPath = model.Path, Environment = new Dictionary<string, string> { ["HOME"] = home, ["CI"] = "" },
            }))
            {
                using var http = new HttpClient { BaseAddress = server.BaseUrl };
                Assert.True((await http.GetAsync("v2/health/ready")).IsSuccessStatusCode);
                Assert.DoesNotContain("telemetry", server.Output, StringComparison.OrdinalIgnoreCase);
            }

            Assert.Empty(Directory.EnumerateFileSystemEntries(home, "*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}

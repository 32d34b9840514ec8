using System.Text;
using System.Text.Json;
using GruOnnx.Models;
using TestSupport;

namespace GruServer.Tests.Support;

/// <summary>One real GruServer shared by a test class: the small masked model with a dense head, served as
/// "small" revision 3 on the canary track, with tight limits so the limit rules are cheap to hit.</summary>
public sealed class SmallModelServer : IAsyncLifetime
{
    public const string Name = "small";
    public const int MaxBatch = 4;
    public const int MaxSequence = 16;
    public const int MaxRequestBytes = 100_000;

    private GruServerProcess? _server;

    public GruServerProcess Server => _server ?? throw new InvalidOperationException("the server is not started");

    public GruModelFile Model { get; private set; } = null!;

    public GruModelSpec Spec => Model.Spec;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    public async Task InitializeAsync()
    {
        Model = await GruTestModels.WriteAsync();
        _server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = Model.Path,
            ModelName = Name,
            Revision = "3",
            Track = "canary",
            ExtraArguments =
            [
                "--max-request-batch-size", MaxBatch.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--max-sequence-length", MaxSequence.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--max-request-bytes", MaxRequestBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ],
        });
        Http.BaseAddress = _server.BaseUrl;
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    public Task<MetricsScrape> ScrapeAsync() => MetricsScrape.FetchAsync(Http, Server.MetricsUrl);

    public async Task<(int Status, JsonElement Body)> InferAsync(string body, string? contentType = "application/json", string model = Name)
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = contentType is null ? null : System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        using var response = await Http.PostAsync($"v2/models/{model}/infer", content);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }
}

using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using TestSupport;

namespace GruServer.Tests.Server;

/// <summary>The README's example infer request works against the bundled sample model, as `make serve` runs it.</summary>
public sealed partial class ReadmeExampleTests
{
    [Fact]
    public async Task TheReadmeCurlRequestIsAnsweredByTheSampleModel()
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "README.md"));
        var example = CurlInferBody().Match(readme);
        Assert.True(example.Success, "README.md has no `curl ... /v2/models/sample-gru/infer ... -d '{...}'` example");
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = Repository.SampleModelPath,
            ModelName = "sample-gru",
        });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        using var response = await http.PostAsync("v2/models/sample-gru/infer", new StringContent(example.Groups["body"].Value, Encoding.UTF8, "application/json"));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("example-1", json.GetProperty("id").GetString());
        var output = Assert.Single(json.GetProperty("outputs").EnumerateArray());
        Assert.Equal("output", output.GetProperty("name").GetString());
        Assert.Equal([2, 4], output.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
    }

    [GeneratedRegex(@"curl [^\n]*/v2/models/sample-gru/infer[^\n]*-d '(?<body>\{.*?\n\})'", RegexOptions.Singleline)]
    private static partial Regex CurlInferBody();
}

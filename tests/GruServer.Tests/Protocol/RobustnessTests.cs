using System.Text;
using System.Text.Json;
using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Protocol;

/// <summary>Bad bodies of every shape never produce a 500, and concurrent requests never mix up results.</summary>
public sealed class RobustnessTests(SmallModelServer fixture) : IClassFixture<SmallModelServer>
{
    [Fact]
    public async Task MutatedBodiesAreAnsweredWithoutServerErrors()
    {
        // Seeded mutations of a valid request: truncations, byte flips, deletions and insertions of JSON
        // punctuation. Whatever the body, the answer is 200, 400 or 415 with an error body, never a 5xx.
        var valid = GruTestModels.InferRequestJson(fixture.Spec, batch: 2, steps: 3);
        var random = new Random(20261125);
        const string punctuation = "{}[],:\"-.eE0 \\";
        for (var i = 0; i < 300; i++)
        {
            var body = new StringBuilder(valid);
            for (var edits = random.Next(1, 4); edits > 0 && body.Length > 1; edits--)
            {
                var at = random.Next(body.Length);
                switch (random.Next(4))
                {
                    case 0:
                        body.Length = at;
                        break;
                    case 1:
                        body[at] = punctuation[random.Next(punctuation.Length)];
                        break;
                    case 2:
                        body.Remove(at, 1);
                        break;
                    default:
                        body.Insert(at, punctuation[random.Next(punctuation.Length)]);
                        break;
                }
            }

            var (status, json) = await fixture.InferAsync(body.ToString());

            Assert.True(status is 200 or 400 or 415, $"mutation {i}: HTTP {status} for {body}");
            if (status != 200)
            {
                Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("error").GetString()));
            }
        }

        using var ready = await fixture.Http.GetAsync("v2/health/ready");
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task ConcurrentRequestsEachGetTheirOwnResult()
    {
        var bodies = Enumerable.Range(0, 24).Select(seed => GruTestModels.InferRequestJson(fixture.Spec, batch: 1 + seed % 3, steps: 2 + seed % 5, seed: seed, id: $"r{seed}")).ToList();
        var sequential = new List<double[]>();
        foreach (var body in bodies)
        {
            sequential.Add(Outputs((await fixture.InferAsync(body)).Body));
        }

        var concurrent = await Task.WhenAll(bodies.Select(async body => (await fixture.InferAsync(body)).Body));

        for (var i = 0; i < bodies.Count; i++)
        {
            Assert.Equal($"r{i}", concurrent[i].GetProperty("id").GetString());
            var values = Outputs(concurrent[i]);
            Assert.Equal(sequential[i].Length, values.Length);
            // Thread scheduling may reorder float sums inside ONNX Runtime; anything beyond that is a mix-up.
            Assert.All(values.Zip(sequential[i]), pair => Assert.True(Math.Abs(pair.First - pair.Second) < 1e-5, $"request r{i}: {pair.First} vs {pair.Second}"));
        }
    }

    private static double[] Outputs(JsonElement response) =>
        [.. response.GetProperty("outputs").EnumerateArray().SelectMany(o => o.GetProperty("data").EnumerateArray()).Select(v => v.GetDouble())];
}

using System.Formats.Tar;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text.Json;
using TestSupport;

namespace Ecosystem.Tests.Images;

/// <summary>
/// <c>images/build.sh --registry 127.0.0.1:PORT/e2e</c> (what <c>make images</c> runs) once, against a real Distribution
/// registry; the tests read what it pushed through the registry's API, as a kubelet would pull it.
/// </summary>
public sealed class ImageBuild : IAsyncLifetime
{
    private readonly HttpClient _http = new();

    public RegistryProcess Registry { get; private set; } = null!;

    /// <summary>What build.sh was given as --registry.</summary>
    public string Prefix => $"{Registry.Host}/e2e";

    public ToolRun Run { get; private set; } = null!;

    /// <summary>Image name → the REF@sha256:DIGEST build.sh printed for it.</summary>
    public IReadOnlyDictionary<string, string> Printed { get; private set; } = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        Registry = await RegistryProcess.StartAnonymousAsync(CancellationToken.None);
        // Cold (no NuGet runtime packs, no earlier publish) it took 75 s on 2 shared cores; the limit leaves room for a busy CI.
        Run = await ExternalTool.Bash.RunAsync([Path.Combine(Repository.Root, "images", "build.sh"), "--registry", Prefix],
            Repository.Root, timeout: TimeSpan.FromMinutes(15));
        Printed = Run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.StartsWith("image ", StringComparison.Ordinal))
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[1], p => p[2]);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await Registry.DisposeAsync();
    }

    /// <summary>Fails with build.sh's output when it did not succeed, so every test names the real cause.</summary>
    public void AssertBuilt() => Assert.True(Run.ExitCode == 0, Run.Output);

    /// <summary>The manifest the registry serves for NAME:TAG, and the digest it names it by.</summary>
    public async Task<(JsonElement Manifest, string Digest)> ManifestAsync(string name, string tag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{Registry.Host}/v2/e2e/{name}/manifests/{tag}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.oci.image.manifest.v1+json"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.docker.distribution.manifest.v2+json"));
        using var response = await _http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{name}:{tag}: {(int)response.StatusCode}");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (json.RootElement.Clone(), response.Headers.GetValues("Docker-Content-Digest").Single());
    }

    /// <summary>The image config's "config" object (User, Entrypoint, Env, ...).</summary>
    public async Task<JsonElement> ConfigAsync(string name, string tag)
    {
        var (manifest, _) = await ManifestAsync(name, tag);
        var digest = manifest.GetProperty("config").GetProperty("digest").GetString()!;
        using var json = JsonDocument.Parse(await _http.GetByteArrayAsync($"http://{Registry.Host}/v2/e2e/{name}/blobs/{digest}"));
        return json.RootElement.GetProperty("config").Clone();
    }

    /// <summary>
    /// The image's file system as the layers stack it (a later layer's entry replaces an earlier one), by path without
    /// a leading "./"; the content is kept only for the paths <paramref name="read"/> names.
    /// </summary>
    public async Task<Dictionary<string, ImageFile>> FilesAsync(string name, string tag, params string[] read)
    {
        var (manifest, _) = await ManifestAsync(name, tag);
        var files = new Dictionary<string, ImageFile>(StringComparer.Ordinal);
        foreach (var layer in manifest.GetProperty("layers").EnumerateArray())
        {
            await using var blob = await _http.GetStreamAsync($"http://{Registry.Host}/v2/e2e/{name}/blobs/{layer.GetProperty("digest").GetString()}");
            await using var gzip = new GZipStream(blob, CompressionMode.Decompress);
            await using var tar = new TarReader(gzip);
            while (await tar.GetNextEntryAsync() is { } entry)
            {
                var path = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
                path = path.TrimEnd('/');
                byte[]? content = null;
                if (read.Contains(path) && entry.DataStream is { } data)
                {
                    using var copy = new MemoryStream();
                    await data.CopyToAsync(copy);
                    content = copy.ToArray();
                }

                files[path] = new ImageFile(entry.EntryType, entry.Mode, entry.Uid, entry.LinkName, content);
            }
        }

        return files;
    }
}

/// <summary>One entry of an image's file system.</summary>
public sealed record ImageFile(TarEntryType Type, UnixFileMode Mode, int Uid, string LinkName, byte[]? Content)
{
    public bool IsExecutableFile =>
        Type is TarEntryType.RegularFile or TarEntryType.V7RegularFile && (Mode & UnixFileMode.UserExecute) != 0 && (Mode & UnixFileMode.OtherExecute) != 0;
}

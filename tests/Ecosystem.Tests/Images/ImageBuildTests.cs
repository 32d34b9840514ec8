using System.Buffers.Binary;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TestSupport;

namespace Ecosystem.Tests.Images;

/// <summary>
/// What make images pushes, read back from the registry: every image by the digest printed, non-root numeric users,
/// entrypoints that exist in the layers, the base's libraries and no shell, the pause binary static, and the operator
/// defaulting to the images built beside it. Running them in real containers on a real kubelet is the e2e lane's part.
/// </summary>
public sealed class ImageBuildTests(ImageBuild build) : IClassFixture<ImageBuild>
{
    /// <summary>The project's Version (Directory.Build.props), which is this assembly's too: the images' default tag.</summary>
    private static readonly string Tag = typeof(ImageBuildTests).Assembly.GetName().Version!.ToString(3);

    private static readonly string[] Names = ["runtime-deps", "pause", "gru-server", "gru-operator", "gru-model"];

    [Fact]
    public async Task EveryImageIsPrintedByTheDigestTheRegistryServesForItsVersionTag()
    {
        build.AssertBuilt();
        Assert.Equal(Names.Order(), build.Printed.Keys.Order());
        foreach (var name in Names)
        {
            var (_, digest) = await build.ManifestAsync(name, Tag);
            Assert.Equal($"{build.Prefix}/{name}:{Tag}@{digest}", build.Printed[name]);
        }
    }

    public static TheoryData<string, string, string[]?> Configs => new()
    {
        { "runtime-deps", "10001:10001", null },
        { "pause", "65535:65535", ["/pause"] },
        { "gru-server", "10001", ["/app/GruServer"] },
        { "gru-operator", "10001", ["/app/gru-operator"] },
        { "gru-model", "10001", ["/app/gru-model"] },
    };

    [Theory]
    [MemberData(nameof(Configs))]
    public async Task EachImageRunsAsANumericNonRootUserWithItsEntrypoint(string name, string user, string[]? entrypoint)
    {
        build.AssertBuilt();
        var config = await build.ConfigAsync(name, Tag);

        Assert.Equal(user, config.GetProperty("User").GetString());
        var actual = config.TryGetProperty("Entrypoint", out var e) && e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => x.GetString()!).ToArray() : null;
        Assert.Equal(entrypoint, actual);
    }

    [Fact]
    public async Task TheDotnetImagesAreBuiltOnTheRuntimeBase()
    {
        build.AssertBuilt();
        var (runtimeDeps, _) = await build.ManifestAsync("runtime-deps", Tag);
        var baseLayer = runtimeDeps.GetProperty("layers")[0].GetProperty("digest").GetString();
        foreach (var name in new[] { "gru-server", "gru-operator", "gru-model" })
        {
            var (manifest, _) = await build.ManifestAsync(name, Tag);
            Assert.Equal(baseLayer, manifest.GetProperty("layers")[0].GetProperty("digest").GetString());
        }
    }

    [Fact]
    public async Task TheServerImageHoldsItsEntrypointOnnxRuntimeAndTheSampleModelOnABaseWithoutAShell()
    {
        build.AssertBuilt();
        var files = await build.FilesAsync("gru-server", Tag, "app/GruServer", "app/models/sample-gru.onnx", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt");

        Assert.True(files["app/GruServer"].IsExecutableFile);
        Assert.Equal("\u007fELF"u8.ToArray(), files["app/GruServer"].Content![..4]);
        Assert.True(files.ContainsKey("app/libonnxruntime.so"));
        Assert.False(files.ContainsKey("app/onnxruntime.dll"), "the Windows ONNX Runtime DLL has no place in a linux image");
        Assert.Equal(SHA256.HashData(await File.ReadAllBytesAsync(Repository.SampleModelPath)), SHA256.HashData(files["app/models/sample-gru.onnx"].Content!));

        // The base: glibc's loader, the C++ runtime and OpenSSL 3 .NET loads, a CA bundle, the user the pods run as; no shell.
        Assert.True(files.ContainsKey("lib64/ld-linux-x86-64.so.2"));
        Assert.True(files.ContainsKey("usr/lib/x86_64-linux-gnu/libstdc++.so.6"));
        Assert.True(files.ContainsKey("usr/lib/x86_64-linux-gnu/libssl.so.3"));
        Assert.Contains("-----BEGIN CERTIFICATE-----", Encoding.ASCII.GetString(files["etc/ssl/certs/ca-certificates.crt"].Content!), StringComparison.Ordinal);
        Assert.Contains("gru:x:10001:10001:", Encoding.ASCII.GetString(files["etc/passwd"].Content!), StringComparison.Ordinal);
        Assert.Contains("gru:x:10001:", Encoding.ASCII.GetString(files["etc/group"].Content!), StringComparison.Ordinal);
        Assert.Equal(10001, files["home/gru"].Uid);
        Assert.DoesNotContain(files.Keys, p => p is "bin/sh" or "usr/bin/sh" or "bin/bash" or "usr/bin/bash" or "bin/dash" or "usr/bin/dash");
    }

    [Fact]
    public async Task ThePauseImageIsOneStaticBinary()
    {
        build.AssertBuilt();
        var (manifest, _) = await build.ManifestAsync("pause", Tag);
        var files = await build.FilesAsync("pause", Tag, "pause");

        Assert.Single(manifest.GetProperty("layers").EnumerateArray());
        Assert.True(files["pause"].IsExecutableFile);
        var elf = files["pause"].Content!;
        Assert.Equal("\u007fELF"u8.ToArray(), elf[..4]);
        // Static: no program header of type PT_INTERP (3), so no loader or libc is needed in the image.
        var headers = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x20));
        var size = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x36));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x38));
        Assert.DoesNotContain(Enumerable.Range(0, count), i => BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)headers + (i * size))) == 3);
    }

    [Fact]
    public async Task TheOperatorImageDefaultsToTheServerAndFetcherImagesBuiltBesideIt()
    {
        build.AssertBuilt();
        var files = await build.FilesAsync("gru-operator", Tag, "app/gru-operator.dll");

        var metadata = AssemblyMetadata(files["app/gru-operator.dll"].Content!);

        // By the digests pushed in the same build (what the script printed), so a moved tag never changes what pods run.
        Assert.Equal(build.Printed["gru-server"], metadata["GruServerImage"]);
        Assert.Equal(build.Printed["gru-model"], metadata["GruModelImage"]);
        Assert.StartsWith($"{build.Prefix}/gru-server:{Tag}@sha256:", metadata["GruServerImage"], StringComparison.Ordinal);
    }

    /// <summary>The [AssemblyMetadata(key, value)] attributes of an assembly, read from its bytes without loading it.</summary>
    private static Dictionary<string, string?> AssemblyMetadata(byte[] assembly)
    {
        using var pe = new PEReader(new MemoryStream(assembly));
        var reader = pe.GetMetadataReader();
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var handle in reader.GetAssemblyDefinition().GetCustomAttributes())
        {
            var attribute = reader.GetCustomAttribute(handle);
            if (attribute.Constructor.Kind != HandleKind.MemberReference) continue;
            var parent = reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent;
            if (parent.Kind != HandleKind.TypeReference || reader.GetString(reader.GetTypeReference((TypeReferenceHandle)parent).Name) != "AssemblyMetadataAttribute") continue;
            var blob = reader.GetBlobReader(attribute.Value);
            Assert.Equal(1, blob.ReadUInt16()); // the custom attribute blob's prolog
            result[blob.ReadSerializedString()!] = blob.ReadSerializedString();
        }

        return result;
    }
}

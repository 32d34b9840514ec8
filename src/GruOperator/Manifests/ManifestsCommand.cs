using GruOperator.Api.Schema;

namespace GruOperator.Manifests;

/// <summary>`gru-operator manifests --output DIR`: writes the CRD generated from the C# types.</summary>
internal static class ManifestsCommand
{
    public static int Write(string output, TextWriter stdout)
    {
        Directory.CreateDirectory(output);
        var path = Path.Combine(output, CrdGenerator.FileName);
        File.WriteAllText(path, CrdGenerator.RenderYaml());
        stdout.WriteLine($"wrote {path}");
        return 0;
    }
}

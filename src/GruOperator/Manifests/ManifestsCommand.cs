using GruOperator.Api.Schema;

namespace GruOperator.Manifests;

/// <summary>`gru-operator manifests --output DIR`: writes the CRD generated from the C# types.</summary>
internal static class ManifestsCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var output = "config/crds";
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--output" or "-o" when i + 1 < args.Length:
                    output = args[++i];
                    break;
                default:
                    stderr.WriteLine($"manifests: unknown argument '{args[i]}'. Usage: gru-operator manifests [--output DIR]");
                    return 2;
            }
        }

        Directory.CreateDirectory(output);
        var path = Path.Combine(output, CrdGenerator.FileName);
        File.WriteAllText(path, CrdGenerator.RenderYaml());
        stdout.WriteLine($"wrote {path}");
        return 0;
    }
}

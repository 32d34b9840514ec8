using GruNodeAgent.Runtime;

namespace GruNodeAgent.Tests.Runtime;

public sealed class ImageCommandsTests
{
    private static readonly ImageCommands Images = new(
    [
        new ImageMapping { Image = "ghcr.io/gru-operator/gru-server", Entrypoint = ["dotnet", "/build/GruServer.dll"] },
        new ImageMapping { Image = "ghcr.io/gru-operator/gru-model", Entrypoint = ["dotnet", "/build/gru-model.dll"] },
        new ImageMapping { Image = "busybox:1.36", Command = ["cp", "$(MODEL_SOURCE)", "$(MODEL_PATH)"] },
        new ImageMapping { Image = "localhost:5000/shell", HostCommands = true },
    ]);

    private static readonly Dictionary<string, string> Env = new() { ["MODEL_SOURCE"] = "/srv/m.onnx", ["MODEL_PATH"] = "/models/model.onnx" };

    [Fact]
    public void Args_follow_the_mapped_entrypoint_whatever_the_tag()
    {
        Assert.Equal(["dotnet", "/build/GruServer.dll", "--model", "/models/model.onnx"],
            Images.Argv("gru-server", "ghcr.io/gru-operator/gru-server:0.1.0", null, ["--model", "$(MODEL_PATH)"], Env));
        Assert.Equal(["dotnet", "/build/GruServer.dll"], Images.Argv("gru-server", "ghcr.io/gru-operator/gru-server@sha256:abc", null, null, Env));
    }

    [Fact]
    public void Only_the_containers_own_args_are_localized_never_the_mapped_entrypoint()
    {
        // A build under /tmp (a clone in /tmp on CI) beside a pod that mounts an emptyDir at /tmp: the entrypoint is a host
        // path and stays; the container's args are container paths and move into the pod's volume.
        var images = new ImageCommands([new ImageMapping { Image = "ghcr.io/gru-operator/gru-server", Entrypoint = ["dotnet", "/tmp/clone/GruServer.dll"] }]);
        static string Localize(string a) => a.StartsWith("/tmp/", StringComparison.Ordinal) ? "/pod/volumes/tmp/" + a["/tmp/".Length..] : a;
        Assert.Equal(["dotnet", "/tmp/clone/GruServer.dll", "--cache", "/pod/volumes/tmp/cache"],
            images.Argv("gru-server", "ghcr.io/gru-operator/gru-server:0.1.0", null, ["--cache", "/tmp/cache"], Env, Localize));
    }

    [Fact]
    public void The_model_fetchers_args_follow_gru_models_local_build()
    {
        // The operator's model-fetcher init container sets only args; the gru-model image's entrypoint runs them.
        Assert.Equal(["dotnet", "/build/gru-model.dll", "pull", "https://m.example/m.onnx", "--sha256", "ab", "--output", "/models/model.onnx"],
            Images.Argv("model-fetcher", "ghcr.io/gru-operator/gru-model:0.1.0", null, ["pull", "https://m.example/m.onnx", "--sha256", "ab", "--output", "/models/model.onnx"], Env));
    }

    [Fact]
    public void A_stand_in_command_replaces_the_containers_own()
    {
        Assert.Equal(["cp", "/srv/m.onnx", "/models/model.onnx"],
            Images.Argv("copier", "busybox:1.36", ["/bin/sh", "-c", "cp ..."], null, Env));
    }

    [Fact]
    public void Host_commands_run_as_written_and_a_registry_port_is_not_a_tag()
    {
        Assert.Equal(["sleep", "5"], Images.Argv("c", "localhost:5000/shell:1", ["sleep"], ["5"], Env));
        Assert.Equal("localhost:5000/shell", ImageCommands.Repository("localhost:5000/shell"));
    }

    [Fact]
    public void An_unmapped_image_is_refused_naming_the_image_and_the_setting()
    {
        var e = Assert.Throws<UnmappableImageException>(() => Images.Argv("app", "docker.io/library/nginx:1.27", null, null, Env));
        Assert.Contains("\"docker.io/library/nginx:1.27\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("NodeAgent:Images", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_command_inside_an_image_without_host_commands_is_refused()
    {
        var e = Assert.Throws<UnmappableImageException>(() => Images.Argv("s", "ghcr.io/gru-operator/gru-server:1", ["/bin/sh"], null, Env));
        Assert.Contains("HostCommands", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("$(MODEL_PATH)", "/models/model.onnx")]
    [InlineData("x-$(MODEL_SOURCE)-y", "x-/srv/m.onnx-y")]
    [InlineData("$$(MODEL_PATH)", "$(MODEL_PATH)")]
    [InlineData("$(UNDEFINED)", "$(UNDEFINED)")]
    [InlineData("cost $5", "cost $5")]
    public void Expands_variables_as_kubernetes(string input, string expected) => Assert.Equal(expected, EnvExpansion.Expand(input, Env));

    [Theory]
    [InlineData("/models/model.onnx", "/host/pod/volumes/model/model.onnx")]
    [InlineData("/models", "/host/pod/volumes/model")]
    [InlineData("--model=/models/m.onnx", "--model=/host/pod/volumes/model/m.onnx")]
    [InlineData("/modelsx/a", "/modelsx/a")]
    [InlineData("/models/cache/x", "/host/cache/x")]
    public void Maps_container_paths_to_their_volumes(string value, string expected) =>
        Assert.Equal(expected, PodSandbox.MapPath(value, [("/models/cache", "/host/cache"), ("/models", "/host/pod/volumes/model")]));
}

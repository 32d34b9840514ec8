namespace GruOnnx; internal static class Placeholder;

package dev.herd.grammar;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GrammarTest {
    private static Grammar schema(String json) {
        return Grammar.schema(SchemaCheck.json(json));
    }

    private static final Grammar PERSON = schema("""
            {"type": "object", "additionalProperties": false, "required": ["name", "tags"],
             "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["a", "b\\"c"]}, "maxItems": 2},
                            "address": {"type": ["object", "null"], "properties": {"zip": {"type": "number"}}, "required": ["zip"], "additionalProperties": false}}}""");

    @Test
    void acceptsValidDocumentsWithAnyKeyOrderSpacesEscapesAndUnicode() {
        assertThat(PERSON.accepts("{\"name\":\"x\",\"tags\":[]}")).isTrue();
        assertThat(PERSON.accepts(" { \"tags\" : [ \"a\" , \"b\\\"c\" ] ,\n\"name\" : \"\\\"é\\u00e9\\n😀\" , \"age\": -12 }")).isTrue();
        assertThat(PERSON.accepts("{\"name\":\"\",\"tags\":[],\"address\":null}")).isTrue();
        assertThat(PERSON.accepts("{\"name\":\"\",\"tags\":[],\"address\":{\"zip\":-0.5e+10}}")).isTrue();
    }

    @Test
    void refusesWhatBreaksTheSchemaOrJson() {
        assertThat(PERSON.accepts("{\"name\":\"x\"}")).as("a required key missing").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"x\",\"tags\":[],\"other\":1}")).as("an undeclared key").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"x\",\"name\":\"y\",\"tags\":[]}")).as("a key twice").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"x\",\"tags\":[\"a\",\"a\",\"a\"]}")).as("more than maxItems").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"x\",\"tags\":[\"c\"]}")).as("not in the enum").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"x\",\"tags\":[],}")).as("a trailing comma").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"x\",\"tags\":[],\"age\":1.5}")).as("a fraction for an integer").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"x\",\"tags\":[],\"age\":01}")).as("a leading zero").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"a\u0001\",\"tags\":[]}")).as("a raw control character").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"\\ud83d\\ude00\",\"tags\":[]}")).as("a surrogate escape").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"\\x\",\"tags\":[]}")).as("an unknown escape").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"x\",\"tags\":[]} ")).as("text after the value").isFalse();
        assertThat(PERSON.accepts("{\"name\":  \"x\",\"tags\":[]}")).as("two spaces in a row").isFalse();
        assertThat(PERSON.accepts("{\"name\":\"x\",\"tags\":[]")).as("unfinished").isFalse();
    }

    @Test
    void refusesInvalidUtf8InsideStrings() {
        State s = PERSON.start().advance("{\"name\":\"".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertThat(s.advance(0xc0)).as("overlong lead byte").isNull();
        assertThat(s.advance(0xed).advance(0xa0)).as("a UTF-8 surrogate").isNull();
        assertThat(s.advance(0xf4).advance(0x90)).as("above U+10FFFF").isNull();
        assertThat(s.advance(0x80)).as("a lone continuation byte").isNull();
        assertThat(s.advance(0xe2).advance(0x82).advance(0xac)).as("the euro sign").isNotNull();
    }

    @Test
    void aTopLevelNumberMayEndOrGoOn() {
        Grammar g = schema("{\"type\": \"integer\"}");
        State s = g.start().advance("12".getBytes());
        assertThat(s.complete()).isTrue();
        assertThat(s.advance('3')).isNotNull();
        assertThat(s.advance('.')).isNull();
        assertThat(g.accepts("-0")).isTrue();
        assertThat(g.accepts("-")).isFalse();
    }

    @Test
    void enumNumbersThatArePrefixesOfEachOtherEndAtTheRightPlace() {
        Grammar g = schema("{\"type\": \"array\", \"items\": {\"enum\": [1, 12]}}");
        assertThat(g.accepts("[1,12,1]")).isTrue();
        assertThat(g.accepts("[13]")).isFalse();
        assertThat(g.accepts("[123]")).isFalse();
    }

    @Test
    void jsonObjectTakesAnyObjectButNothingElse() {
        Grammar g = Grammar.jsonObject();
        assertThat(g.accepts("{\"a\":[1,{\"b\":null},\"x\",true,-1.5E3],\"c\":{}}")).isTrue();
        assertThat(g.accepts("[1]")).isFalse();
        assertThat(g.accepts("{\"a\":1,\"a\":2}")).as("a key twice").isFalse();
    }

    @Test
    void wrapsTheValueInFixedTexts() {
        Grammar g = Grammar.jsonObject().around("<tool_call>\n", "\n</tool_call>");
        assertThat(g.accepts("<tool_call>\n{\"a\":1}\n</tool_call>")).isTrue();
        assertThat(g.accepts("<tool_call>\n{\"a\":1}")).isFalse();
        assertThat(g.accepts("{\"a\":1}\n</tool_call>")).isFalse();
    }

    @Test
    void unsupportedKeywordsAreNamed() {
        assertThatThrownBy(() -> schema("{\"type\": \"object\", \"properties\": {\"a\": {\"anyOf\": [{\"type\": \"string\"}]}}}"))
                .isInstanceOf(SchemaException.class).hasMessage("'anyOf' is not supported (at '.properties.a')");
        assertThatThrownBy(() -> schema("{\"type\": \"string\", \"pattern\": \"^a\"}"))
                .isInstanceOf(SchemaException.class).hasMessage("'pattern' is not supported");
        assertThatThrownBy(() -> schema("{\"type\": \"object\", \"required\": [\"x\"], \"properties\": {}}"))
                .hasMessageContaining("'required' names '\"x\"', which is not in 'properties'");
        assertThatThrownBy(() -> schema("{\"type\": \"strin\"}")).hasMessageContaining("'type' must be object, array");
        assertThatThrownBy(() -> schema("{\"enum\": []}")).hasMessageContaining("'enum' must be an array of 1 to");
        assertThatThrownBy(() -> schema("{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 2}")).hasMessageContaining("'minItems' is more than 'maxItems'");
    }
}
